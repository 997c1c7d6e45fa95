"""Payment state in PostgreSQL: `subscriptions` (0001_accounts.sql), `processed_events` (0120)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..core.db import Database
from ..core.errors import NotFound
from .domain import SubscriptionState, WebhookEvent, should_replace

_COLUMNS = (
    "user_id, provider, status, plan, current_period_end, provider_customer_id,"
    " provider_subscription_id"
)


@dataclass
class PostgresPaymentStore:
    db: Database

    def processed(self, provider: str, event_id: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT 1 FROM processed_events WHERE provider = %s AND event_id = %s",
                (provider, event_id),
            )
            return cur.fetchone() is not None

    def apply(self, event: WebhookEvent, state: SubscriptionState | None) -> bool:
        """Insert the event row and upsert the subscription in one transaction.

        A concurrent delivery of the same event waits on the unique key, then finds the row and
        changes nothing. An unknown user rolls everything back (404), so a redelivery can succeed
        once the profile exists.
        """
        try:
            with self.db.transaction() as cur:
                cur.execute(
                    "INSERT INTO processed_events (provider, event_id, event_type)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING event_id",
                    (event.provider, event.event_id, event.event_type),
                )
                if cur.fetchone() is None:
                    return False
                if state is not None:
                    self._upsert(cur, state)
                return True
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(f"user_id: no user {state.user_id if state else ''}") from None

    @staticmethod
    def _upsert(cur: psycopg.Cursor[dict[str, Any]], state: SubscriptionState) -> None:
        cur.execute(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE user_id = %s FOR UPDATE",
            (state.user_id,),
        )
        row = cur.fetchone()
        current = SubscriptionState(**row) if row else None
        if not should_replace(current, state):
            return
        cur.execute(
            f"INSERT INTO subscriptions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET provider = EXCLUDED.provider,"
            " status = EXCLUDED.status, plan = EXCLUDED.plan,"
            " current_period_end = EXCLUDED.current_period_end,"
            " provider_customer_id = EXCLUDED.provider_customer_id,"
            " provider_subscription_id = EXCLUDED.provider_subscription_id, updated_at = now()",
            (
                state.user_id,
                state.provider,
                state.status,
                state.plan,
                state.current_period_end,
                state.provider_customer_id,
                state.provider_subscription_id,
            ),
        )
