import { useState } from "react";
import type { Plan } from "../lib/endpoints";
import { useServices } from "./context";
import { describe, Loaded, useAsync } from "./hooks";

function price(plan: Plan): string {
  const label = plan.kind === "pass" ? `${plan.pass_days ?? "?"}-day pass` : "Monthly subscription";
  return plan.amount ? `${label} · ${plan.amount} ${plan.currency}` : label;
}

/** The caller's subscription, the plans on sale, checkout by redirect to Stripe or PayPal. */
export function SubscriptionPage() {
  const { api } = useServices();
  const current = useAsync(() => api.subscription(), [api]);
  const plans = useAsync(() => api.plans(), [api]);
  const [note, setNote] = useState<string | null>(null);
  const returned = new URLSearchParams(window.location.search).get("checkout");

  const checkout = async (provider: "stripe" | "paypal", plan: string) => {
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
      {returned && <p role="status">Payment {returned === "success" ? "received: your subscription updates in a moment" : "cancelled"}.</p>}
      <Loaded state={current.state} retry={current.reload}>
        {(sub) =>
          sub ? (
            <p>
              Plan <strong>{sub.plan}</strong> via {sub.provider}: <strong>{sub.status}</strong>
              {sub.current_period_end && ` until ${new Date(sub.current_period_end).toLocaleDateString()}`}
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
                <strong>{plan.id}</strong> <span className="muted">{price(plan)}</span>{" "}
                <button type="button" onClick={() => void checkout("stripe", plan.id)}>
                  Pay with card (Stripe)
                </button>{" "}
                <button type="button" onClick={() => void checkout("paypal", plan.id)}>
                  PayPal
                </button>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      {note && <p role="status">{note}</p>}
    </section>
  );
}
