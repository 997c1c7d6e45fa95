-- Payment: webhook idempotency. A provider event is processed once: its row is inserted in the
-- same transaction as the subscription change it causes, so a replay finds it and changes nothing.
-- Subscription state itself lives in `subscriptions` (0001_accounts.sql).
CREATE TABLE processed_events (
    provider     text NOT NULL CHECK (provider IN ('stripe', 'paypal')),
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
