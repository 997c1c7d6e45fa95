-- Accounts: one profile row per confirmed Cognito user (Auth service) and the subscription state
-- shared by the Payment service (writer) and the Catalog stream endpoint (reader).
CREATE TABLE users (
    user_id      text PRIMARY KEY,                 -- Cognito `sub`
    email        text NOT NULL,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE subscriptions (
    user_id                  text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    provider                 text NOT NULL CHECK (provider IN ('stripe', 'paypal', 'internal')),
    status                   text NOT NULL CHECK (status IN (
        'incomplete', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused', 'expired')),
    plan                     text NOT NULL,
    current_period_end       timestamptz,
    provider_customer_id     text,               -- provider token only: never card data
    provider_subscription_id text,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_provider_ref ON subscriptions (provider, provider_subscription_id);
