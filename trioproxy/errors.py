"""The one error tree of trioproxy, and its single mapping to the OpenAI error envelope.

    ProxyError                      anything the gateway answers with an error
    ├── ClientError                 the caller's request is at fault (4xx)
    │   ├── InvalidRequest          400 invalid_request_error (bad JSON, wrong types, ...)
    │   ├── AuthenticationFailed    401 missing or wrong client credential
    │   ├── PermissionDenied        403 not allowed from this address
    │   ├── NotFound                404 unknown route or model
    │   ├── MethodNotAllowed        405
    │   └── PayloadTooLarge         413
    ├── UpstreamError               Gemini answered with an error we pass on, translated
    ├── PoolExhausted               no credential can serve the request now
    │   ├── AllCooling              429 + Retry-After (earliest recovery)
    │   └── PoolUnavailable         503 + a diagnostic of each key's masked name and state
    └── GatewayTimeout              504, the request's overall deadline passed

Adapters translate foreign exceptions (httpx, trio.TooSlowError, JSON errors) into this
tree at the boundary; routes turn any ProxyError into a response with `envelope()`.
Messages must never contain a secret: they are shown to clients and written to logs.
"""

from __future__ import annotations

import math
from typing import Any

# The JSON Schema of `ProxyError.envelope()`, for the OpenAPI documents.
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


class ProxyError(Exception):
    """Base of every error the gateway answers with."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers: dict[str, str] = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        """The OpenAI error body, `{"error": {message, type, param, code}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class ClientError(ProxyError):
    status = 400
    type = "invalid_request_error"


class InvalidRequest(ClientError):
    status = 400


class AuthenticationFailed(ClientError):
    status = 401
    code = "invalid_api_key"


class PermissionDenied(ClientError):
    status = 403
    type = "permission_error"


class NotFound(ClientError):
    status = 404


class MethodNotAllowed(ClientError):
    status = 405


class PayloadTooLarge(ClientError):
    status = 413


class UpstreamError(ProxyError):
    """An error answered by the upstream, already translated to OpenAI terms."""


class PoolExhausted(ProxyError):
    """No credential can serve the request now."""


def retry_after_header(seconds: float) -> str:
    """`Retry-After` takes whole seconds: rounded up, and never 0 (which would invite an
    immediate retry into the same wall)."""
    return str(max(1, math.ceil(seconds)))


class AllCooling(PoolExhausted):
    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, per_day: bool = False) -> None:
        headers = {"retry-after": retry_after_header(retry_after)}
        if per_day:
            # The OpenAI SDKs read this before anything else: do not hammer a pool that is
            # out of daily quota until its reset.
            headers["x-should-retry"] = "false"
        super().__init__(
            message,
            headers=headers,
            code="insufficient_quota" if per_day else None,
            type="insufficient_quota" if per_day else None,
        )
        self.retry_after = retry_after


class PoolUnavailable(PoolExhausted):
    status = 503
    type = "server_error"
    code = "no_usable_key"

    def __init__(
        self,
        message: str,
        *,
        keys: list[dict[str, Any]],
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        headers: dict[str, str] = {}
        if not retryable:
            # When every key is disabled, retrying cannot help until an operator acts:
            # tell the OpenAI SDKs (which retry 503 by default) not to.
            headers["x-should-retry"] = "false"
        elif retry_after is not None:
            # When the first key is usable again (a breaker's backoff ends, a cooldown).
            headers["retry-after"] = retry_after_header(retry_after)
        super().__init__(message, headers=headers or None)
        self.keys = keys

    def envelope(self) -> dict[str, Any]:
        body = super().envelope()
        body["error"]["keys"] = self.keys
        return body


class GatewayTimeout(ProxyError):
    status = 504
    type = "server_error"
    code = "timeout"


class ShuttingDown(ProxyError):
    """The gateway is shutting down and the grace period for in-flight work is over."""

    status = 503
    type = "server_error"
    code = "gateway_shutting_down"

    def __init__(self) -> None:
        # The client's retry reaches another instance, or this one after its restart.
        super().__init__(
            "The gateway is shutting down; the request was cut at the end of the grace "
            "period. Retry it.",
            headers={"retry-after": "1"},
        )
