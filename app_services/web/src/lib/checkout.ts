/** Coming back from a provider's hosted checkout: the payment service's return URLs carry
 * `?checkout=success|cancelled`; the subscription changes only once the provider's webhook
 * reached the service, which may be a moment after the buyer is back. */

import type { Plan, Provider, Subscription } from "./endpoints";

export type Returned = "success" | "cancelled" | null;

/** What the return URL's query says (anything else: not a return). */
export function checkoutReturn(search: string): Returned {
  const value = new URLSearchParams(search).get("checkout");
  return value === "success" || value === "cancelled" ? value : null;
}

/** Statuses that let the user stream (the API's `allows_streaming`, less the period check). */
export function entitled(sub: Subscription | null): boolean {
  return !!sub && (sub.status === "active" || sub.status === "trialing");
}

/** Read the subscription again after a paid return until it shows, `max` times at most. */
export function pollAgain(returned: Returned, sub: Subscription | null, attempt: number, max = 10): boolean {
  return returned === "success" && !entitled(sub) && attempt < max;
}

export const PROVIDER_LABEL: Record<Provider, string> = { stripe: "Pay by card (Stripe)", paypal: "PayPal" };

/** A plan's price line. */
export function priceLabel(plan: Plan): string {
  const label = plan.kind === "pass" ? `${plan.pass_days ?? "?"}-day pass` : "Monthly subscription";
  return plan.amount ? `${label} · ${plan.amount} ${plan.currency}` : label;
}
