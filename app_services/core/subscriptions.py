"""Subscription state (written by the Payment service, read by whoever gates a feature on it)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from .db import Database

STREAMING_STATUSES = frozenset({"trialing", "active"})


class Subscription(BaseModel):
    user_id: str
    provider: str
    status: str
    plan: str
    current_period_end: datetime | None = None

    def allows_streaming(self, now: datetime | None = None) -> bool:
        """Trialing or active, and the paid period has not ended."""
        if self.status not in STREAMING_STATUSES:
            return False
        end = self.current_period_end
        return end is None or end > (now or datetime.now(UTC))


class SubscriptionReader:
    """Read access to the `subscriptions` table."""

    def __init__(self, db: Database):
        self.db = db

    def get(self, user_id: str) -> Subscription | None:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT user_id, provider, status, plan, current_period_end"
                " FROM subscriptions WHERE user_id = %s",
                (user_id,),
            )
            row = cur.fetchone()
        return Subscription.model_validate(row) if row else None
