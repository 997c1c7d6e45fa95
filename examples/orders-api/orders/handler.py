"""Orders: place an order and read it back, in PostgreSQL, as the database role `orders`.

Invoked directly (or by a queue or an API): `{"action": "place", "customer": "c-1",
"total_cents": 1299}` answers `{"id": "<uuid>"}`; `{"action": "get", "id": "<uuid>"}` answers
the order, or `{"error": "not found"}`.

In Lambda it signs in with a 15-minute IAM token (the role's `rds-db:connect` grant) over TLS
verified against certifi's roots (RDS Proxy presents an Amazon-issued certificate); with
`DATABASE_URL` set (local runs, tests) it connects with that DSN instead.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

#: The table, created by the first connection (a migration tool would own this in a real team).
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id uuid PRIMARY KEY,
    customer text NOT NULL,
    total_cents integer NOT NULL CHECK (total_cents >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


def connect() -> psycopg.Connection[dict[str, Any]]:
    dsn = os.environ.get("DATABASE_URL")
    if dsn:
        conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
    else:
        import boto3
        import certifi

        host, user = os.environ["DB_HOST"], os.environ["DB_USER"]
        port = int(os.environ.get("DB_PORT", "5432"))
        token = boto3.client("rds").generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user
        )
        conn = psycopg.connect(
            host=host,
            port=port,
            user=user,
            password=token,
            dbname=os.environ["DB_NAME"],
            sslmode="verify-full",
            sslrootcert=os.environ.get("DB_SSLROOTCERT") or certifi.where(),
            autocommit=True,
            row_factory=dict_row,
        )
    conn.execute(SCHEMA)
    return conn


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    action = event.get("action")
    with connect() as conn:
        if action == "place":
            total = event.get("total_cents")
            if not isinstance(total, int) or total < 0 or not event.get("customer"):
                return {"error": "customer and a non-negative integer total_cents are required"}
            order_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO orders (id, customer, total_cents) VALUES (%s, %s, %s)",
                (order_id, event["customer"], total),
            )
            return {"id": str(order_id)}
        if action == "get":
            try:
                order_id = uuid.UUID(str(event.get("id")))
            except ValueError:
                return {"error": "not found"}
            row = conn.execute(
                "SELECT id, customer, total_cents FROM orders WHERE id = %s", (order_id,)
            ).fetchone()
            if row is None:
                return {"error": "not found"}
            return {**row, "id": str(row["id"])}
    return {"error": f"unknown action {action!r}; use 'place' or 'get'"}
