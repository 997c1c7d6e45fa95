"""Coded service errors. `app_services.core.http.error_response` is the one place that maps them."""

from __future__ import annotations


class ServiceError(Exception):
    """An error a client may see: a stable `code`, an HTTP `status` and, for input, the `field`."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class BadRequest(ServiceError):
    """The request is malformed or a field is invalid (`field` names it)."""

    status = 400
    code = "invalid_request"


class Unauthorized(ServiceError):
    """No signed-in user where one is required."""

    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """The signed-in user may not do this (not the owner, subscription does not allow it)."""

    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    """The addressed resource does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request conflicts with the current state (duplicate, concurrent change)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    """The request or object is larger than the service accepts."""

    status = 413
    code = "payload_too_large"


class Misconfigured(ServiceError):
    """The service's own settings are missing or invalid: a server fault, never the client's."""

    status = 500
    code = "misconfigured"


class UpstreamError(ServiceError):
    """A dependency (AWS API, payment provider, database) failed; safe to retry."""

    status = 502
    code = "upstream_error"
