import { describe, expect, it } from "vitest";
import { checkoutReturn, entitled, pollAgain, priceLabel } from "./checkout";
import type { Subscription } from "./endpoints";

const sub = (status: string): Subscription => ({ provider: "stripe", status, plan: "p", current_period_end: null });

describe("checkout return", () => {
  it("reads the return URL's query", () => {
    expect(checkoutReturn("?checkout=success")).toBe("success");
    expect(checkoutReturn("?checkout=cancelled&x=1")).toBe("cancelled");
    expect(checkoutReturn("?checkout=maybe")).toBeNull();
    expect(checkoutReturn("")).toBeNull();
  });

  it("polls after a paid return until the subscription entitles, a bounded number of times", () => {
    expect(pollAgain("success", null, 0)).toBe(true);
    expect(pollAgain("success", sub("incomplete"), 3)).toBe(true);
    expect(pollAgain("success", sub("active"), 0)).toBe(false);
    expect(pollAgain("success", null, 10)).toBe(false);
    expect(pollAgain("cancelled", null, 0)).toBe(false);
    expect(pollAgain(null, null, 0)).toBe(false);
    expect(entitled(sub("trialing"))).toBe(true);
    expect(entitled(sub("past_due"))).toBe(false);
  });

  it("labels plans", () => {
    expect(priceLabel({ id: "m", kind: "subscription", currency: "EUR", providers: ["stripe"] })).toBe("Monthly subscription");
    expect(priceLabel({ id: "p", kind: "pass", currency: "EUR", amount: "9.99", pass_days: 30, providers: [] })).toBe("30-day pass · 9.99 EUR");
  });
});
