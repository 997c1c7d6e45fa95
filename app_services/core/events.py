"""Typed AWS event payloads: API Gateway HTTP API v2 / WebSocket, SQS, SNS, Kinesis, S3, Cognito.

Models accept the payloads exactly as AWS delivers them (camelCase or PascalCase keys) and ignore
fields they do not use, so a new field added by AWS never breaks a handler.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BadRequest, Unauthorized

M = TypeVar("M", bound=BaseModel)
B = TypeVar("B", bound="RequestBody")
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() also accepts `²` and `٣`


class RequestBody(BaseModel):
    """The one rule for every JSON request body: unknown fields are a 400, models are frozen.

    A body belongs to one route, so its validator is built when that route first parses one,
    not on the cold start (`defer_build`); a handler builds its most frequent route's body at
    import (`PlayBody.model_rebuild(force=True)`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def reject_nul(data: Any, where: str = "body") -> None:
    """400 naming the field when any string (key or value) in `data` holds a NUL character.

    PostgreSQL text cannot store U+0000, so it would otherwise surface as a 500 deep in a write.
    """
    if isinstance(data, str):
        if "\x00" in data:
            raise BadRequest(f"{where}: the NUL character is not allowed", field=where)
    elif isinstance(data, dict):
        for key, value in data.items():
            reject_nul(key, where)
            reject_nul(value, f"{where}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            reject_nul(value, f"{where}.{index}")


class _Event(BaseModel):
    """An AWS event. Its validator is built by the module that handles its kind, when imported
    (`core.routing`: HTTP API events; `activity.records`: Kinesis and SNS), or else by the first
    event of its kind: a function does not pay at cold start for kinds it does not receive."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)


def _field_name(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "body"


def bad_request(exc: ValidationError, where: str = "body") -> BadRequest:
    """A 400 naming the first invalid field of a pydantic validation error."""
    first = exc.errors()[0]
    field = _field_name(first)
    return BadRequest(f"{where}.{field}: {first['msg']}", field=field)


def parse_model(model: type[M], data: Any, *, where: str = "body") -> M:
    """Validate `data` into `model`, turning the first problem into a 400 naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(exc, where) from None


# --- API Gateway HTTP API (payload format 2.0) -------------------------------------------------


class Http(_Event):
    method: str
    path: str
    source_ip: str = Field("", alias="sourceIp")


class Jwt(_Event):
    claims: dict[str, Any] = {}
    scopes: list[str] | None = None


class Authorizer(_Event):
    jwt: Jwt | None = None
    #: Context of a Lambda authorizer (the auth service's edge gate puts the token's claims here).
    lambda_: dict[str, Any] | None = Field(None, alias="lambda")


class HttpRequestContext(_Event):
    request_id: str = Field(alias="requestId")
    route_key: str = Field("$default", alias="routeKey")
    http: Http
    authorizer: Authorizer | None = None
    stage: str = "$default"


class HttpApiEvent(_Event):
    """An API Gateway HTTP API request (payload format version 2.0)."""

    version: str = "2.0"
    route_key: str = Field("$default", alias="routeKey")
    raw_path: str = Field(alias="rawPath")
    raw_query_string: str = Field("", alias="rawQueryString")
    headers: dict[str, str] = {}
    query: dict[str, str] = Field(default_factory=dict, alias="queryStringParameters")
    path_parameters: dict[str, str] = Field(default_factory=dict, alias="pathParameters")
    body: str | None = None
    is_base64_encoded: bool = Field(False, alias="isBase64Encoded")
    request_context: HttpRequestContext = Field(alias="requestContext")

    @property
    def method(self) -> str:
        return self.request_context.http.method.upper()

    @property
    def request_id(self) -> str:
        return self.request_context.request_id

    @property
    def claims(self) -> dict[str, Any]:
        """The token claims the API Gateway authorizer verified (JWT or Lambda authorizer;
        empty when unauthenticated)."""
        auth = self.request_context.authorizer
        if auth is None:
            return {}
        return dict(auth.jwt.claims) if auth.jwt else dict(auth.lambda_ or {})

    @property
    def user_id(self) -> str | None:
        sub = self.claims.get("sub")
        return str(sub) if sub else None

    def require_user(self) -> str:
        """The signed-in user's id (Cognito `sub`), or 401."""
        user = self.user_id
        if not user:
            raise Unauthorized("sign in first: this route needs a user token")
        return user

    def raw_body(self) -> bytes:
        """The body exactly as sent (webhook signatures are computed over these bytes)."""
        if self.body is None:
            return b""
        return base64.b64decode(self.body) if self.is_base64_encoded else self.body.encode()

    def json_body(self, model: type[B]) -> B:
        """The JSON body validated into `model` (400 naming the field on error)."""
        try:
            data = json.loads(self.raw_body() or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("body: not valid JSON", field="body") from None
        if data is None:
            raise BadRequest("body: a JSON object is required", field="body")
        reject_nul(data)
        return parse_model(model, data)

    def path(self, name: str) -> str:
        value = self.path_parameters.get(name)
        if not value:
            raise BadRequest(f"path.{name}: missing", field=name)
        reject_nul(value, name)
        return value

    def path_int(self, name: str) -> int:
        """A non-negative integer path parameter (ASCII digits only), else 400 naming it."""
        value = self.path(name)
        if not _DIGITS.fullmatch(value):
            raise BadRequest(f"path.{name}: must be a non-negative integer", field=name)
        return int(value)

    def query_model(self, model: type[M]) -> M:
        """The query string validated into `model` (400 naming the parameter on error)."""
        reject_nul(self.query, "query")
        return parse_model(model, self.query, where="query")


# --- API Gateway WebSocket ----------------------------------------------------------------------


class WebSocketContext(_Event):
    request_id: str = Field("", alias="requestId")
    route_key: str = Field(alias="routeKey")
    event_type: str = Field(alias="eventType")
    connection_id: str = Field(alias="connectionId")
    domain_name: str = Field("", alias="domainName")
    stage: str = ""
    authorizer: dict[str, Any] = {}


class WebSocketEvent(_Event):
    """A WebSocket API event ($connect, $disconnect or a message route)."""

    request_context: WebSocketContext = Field(alias="requestContext")
    headers: dict[str, str] = {}
    query: dict[str, str] = Field(default_factory=dict, alias="queryStringParameters")
    body: str | None = None


# --- SQS / SNS / Kinesis ----------------------------------------------------------------------


class SqsRecord(_Event):
    message_id: str = Field(alias="messageId")
    receipt_handle: str = Field("", alias="receiptHandle")
    body: str
    attributes: dict[str, str] = {}
    message_attributes: dict[str, Any] = Field(default_factory=dict, alias="messageAttributes")
    event_source_arn: str = Field("", alias="eventSourceARN")

    def parsed(self, model: type[M]) -> M:
        """The JSON message body validated into `model`."""
        try:
            data = json.loads(self.body)
        except ValueError:
            raise BadRequest("message: not valid JSON", field="body") from None
        return parse_model(model, data, where="message")


class SqsEvent(_Event):
    records: list[SqsRecord] = Field(alias="Records")


class SnsMessage(_Event):
    message_id: str = Field(alias="MessageId")
    topic_arn: str = Field(alias="TopicArn")
    subject: str | None = Field(None, alias="Subject")
    message: str = Field(alias="Message")
    timestamp: str = Field("", alias="Timestamp")
    message_attributes: dict[str, Any] = Field(default_factory=dict, alias="MessageAttributes")


class SnsRecord(_Event):
    sns: SnsMessage = Field(alias="Sns")


class SnsEvent(_Event):
    records: list[SnsRecord] = Field(alias="Records")


class KinesisData(_Event):
    partition_key: str = Field(alias="partitionKey")
    sequence_number: str = Field(alias="sequenceNumber")
    data: str

    def decoded(self) -> bytes:
        return base64.b64decode(self.data)


class KinesisRecord(_Event):
    kinesis: KinesisData
    event_id: str = Field("", alias="eventID")
    event_source_arn: str = Field("", alias="eventSourceARN")


class KinesisEvent(_Event):
    records: list[KinesisRecord] = Field(alias="Records")


def batch_failures(failed_ids: list[str]) -> dict[str, Any]:
    """The partial-batch response for SQS/Kinesis (`ReportBatchItemFailures`)."""
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed_ids]}


# --- S3 -----------------------------------------------------------------------------------------


class S3Bucket(_Event):
    name: str


class S3Object(_Event):
    key: str
    size: int = 0
    etag: str | None = Field(None, alias="eTag")

    @property
    def decoded_key(self) -> str:
        """The object key; S3 notifications URL-encode it (spaces arrive as `+`)."""
        return unquote_plus(self.key)


class S3Entity(_Event):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Event):
    event_name: str = Field(alias="eventName")
    s3: S3Entity


class S3Event(_Event):
    records: list[S3Record] = Field(alias="Records")


# --- Cognito user pool triggers --------------------------------------------------------------


class CognitoRequest(_Event):
    user_attributes: dict[str, str] = Field(default_factory=dict, alias="userAttributes")
    validation_data: dict[str, str] | None = Field(None, alias="validationData")
    client_metadata: dict[str, str] | None = Field(None, alias="clientMetadata")


class CognitoTriggerEvent(_Event):
    """A Cognito user pool trigger (pre sign-up, post confirmation, ...).

    Cognito expects the same event back, with `response` filled in; `reply()` builds it.
    """

    version: str = "1"
    trigger_source: str = Field(alias="triggerSource")
    region: str
    user_pool_id: str = Field(alias="userPoolId")
    user_name: str = Field(alias="userName")
    caller_context: dict[str, Any] = Field(default_factory=dict, alias="callerContext")
    request: CognitoRequest
    response: dict[str, Any] = {}

    def reply(self, **response: Any) -> dict[str, Any]:
        out = self.model_dump(by_alias=True)
        out["response"] = {**self.response, **response}
        return out
