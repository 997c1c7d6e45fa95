"""Payment: Stripe Checkout and PayPal, verified idempotent webhooks, subscription state."""
