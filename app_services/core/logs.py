"""Structured JSON logs: one line per record, carrying the service name and the request id."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_RESERVED = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """Render a record as JSON with `service`, `request_id` and every `extra=` key."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "request_id": _request_id.get(),
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is at emit time (Lambda's stream, a test's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # no flush of a previous (maybe closed) stream
        super().emit(record)


def configure(service: str, level: str = "INFO") -> logging.Logger:
    """The service's logger, writing JSON lines to stdout (CloudWatch Logs in Lambda)."""
    logger = logging.getLogger(f"soundstack.{service}")
    if not logger.handlers:
        handler = _StdoutHandler(sys.stdout)
        handler.setFormatter(JsonFormatter(service))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())
    return logger


def set_request_id(request_id: str | None) -> contextvars.Token:
    """Bind the request id to every log line of the current invocation."""
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()
