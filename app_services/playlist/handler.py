"""Playlist Lambda entry point (HTTP API)."""

from __future__ import annotations

from typing import Any

from .api import routes


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return routes.handle(event, context)
