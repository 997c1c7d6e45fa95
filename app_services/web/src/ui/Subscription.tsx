import { useEffect, useState } from "react";
import { checkoutReturn, entitled, pollAgain, priceLabel, PROVIDER_LABEL } from "../lib/checkout";
import type { Provider } from "../lib/endpoints";
import { useServices } from "./context";
import { describe, href, Loaded, useAsync } from "./hooks";

/** The caller's subscription, the plans on sale, checkout by redirect to Stripe or PayPal. */
export function SubscriptionPage() {
  const { api } = useServices();
  // Back from the provider: remember what the return URL said, then drop it from the address.
  const [returned] = useState(() => checkoutReturn(window.location.search));
  useEffect(() => {
    if (returned) history.replaceState(null, "", `${window.location.pathname}${href("subscription")}`);
  }, [returned]);
  const [attempt, setAttempt] = useState(0);
  const current = useAsync(() => api.subscription(), [api, attempt]);
  const plans = useAsync(() => api.plans(), [api]);
  const [note, setNote] = useState<string | null>(null);

  const sub = current.state.status === "ready" ? current.state.data : null;
  const settled = current.state.status !== "loading";
  useEffect(() => {
    if (!settled || !pollAgain(returned, sub, attempt)) return;
    const timer = setTimeout(() => setAttempt((n) => n + 1), 2_000);
    return () => clearTimeout(timer);
  }, [settled, returned, sub, attempt]);

  const checkout = async (provider: Provider, plan: string) => {
    setNote("Opening checkout…");
    try {
      const redirect = await api.checkout(provider, plan);
      window.location.assign(redirect.url);
    } catch (error) {
      setNote(describe(error));
    }
  };

  return (
    <section>
      <h1>Subscription</h1>
      {returned === "success" && (
        <p role="status">{entitled(sub) ? "Payment received: thank you." : "Payment received: your subscription updates in a moment…"}</p>
      )}
      {returned === "cancelled" && <p role="status">Checkout cancelled: nothing was charged.</p>}
      <Loaded state={current.state} retry={current.reload}>
        {(s) =>
          s ? (
            <p className="subscription">
              Plan <strong>{s.plan}</strong> via {s.provider}: <strong>{s.status}</strong>
              {s.current_period_end && ` until ${new Date(s.current_period_end).toLocaleDateString()}`}
            </p>
          ) : (
            <p className="muted">No subscription: streaming needs one.</p>
          )
        }
      </Loaded>
      <h2>Plans</h2>
      <Loaded state={plans.state} retry={plans.reload} empty={(d) => d.length === 0} emptyText="No plans on sale.">
        {(list) => (
          <ul className="list">
            {list.map((plan) => (
              <li key={plan.id}>
                <strong>{plan.id}</strong> <span className="muted">{priceLabel(plan)}</span>{" "}
                {plan.providers.map((provider) => (
                  <button key={provider} type="button" onClick={() => void checkout(provider, plan.id)} aria-label={`${PROVIDER_LABEL[provider]}: ${plan.id}`}>
                    {PROVIDER_LABEL[provider]}
                  </button>
                ))}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      {note && <p role="status">{note}</p>}
    </section>
  );
}
