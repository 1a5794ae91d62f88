"""The exact error bodies the Gemini API returns (reference sections 1.3, 2, 4 and 5)."""

from __future__ import annotations

from typing import Any

_T = "type.googleapis.com/google.rpc."
RATE_LIMIT_DOCS = "https://ai.google.dev/gemini-api/docs/rate-limits"
QUOTA_METRIC_REQUESTS = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
QUOTA_ID_MINUTE = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
QUOTA_ID_DAY = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"


class GeminiError(Exception):
    """An error response: raising it anywhere in a handler turns into the exact body."""

    def __init__(
        self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{code} {status}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def api_key_invalid() -> GeminiError:
    msg = "API key not valid. Please pass a valid API key."
    return GeminiError(
        400,
        "INVALID_ARGUMENT",
        msg,
        [
            {
                "@type": _T + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": _T + "LocalizedMessage", "locale": "en-US", "message": msg},
        ],
    )


def unregistered_caller() -> GeminiError:
    return GeminiError(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity)."
        " Please use API Key or other form of API consumer identity to call this API.",
    )


def leaked_key() -> GeminiError:
    return GeminiError(
        403,
        "PERMISSION_DENIED",
        "Your API key was reported as leaked. Please use another API key.",
    )


def unauthenticated() -> GeminiError:
    return GeminiError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login"
        " cookie or other valid authentication credential. See"
        " https://developers.google.com/identity/sign-in/web/devconsole-project.",
    )


def model_not_found(model: str, version: str, method: str) -> GeminiError:
    msg = (
        f"models/{model} is not found for API version {version}, or is not supported for"
        f" {method}. Call ListModels to see the list of available models and their supported"
        " methods."
    )
    return GeminiError(
        404,
        "NOT_FOUND",
        msg,
        [{"@type": _T + "DebugInfo", "detail": f"[ORIGINAL ERROR] generic::not_found: {msg}"}],
    )


def invalid_argument(message: str) -> GeminiError:
    """The '* Request.path: text' validation errors, which carry no details."""
    return GeminiError(400, "INVALID_ARGUMENT", message)


def field_violations(violations: list[tuple[str, str]]) -> GeminiError:
    """One BadRequest.fieldViolation per (snake path, description); messages joined by \\n."""
    # A violation at the root has no field path, so the key is left out entirely.
    entries = [
        {"field": field, "description": description} if field else {"description": description}
        for field, description in violations
    ]
    message = "\n".join(description for _, description in violations)
    return GeminiError(
        400, "INVALID_ARGUMENT", message, [{"@type": _T + "BadRequest", "fieldViolations": entries}]
    )


def invalid_json(detail: str) -> GeminiError:
    msg = f"Invalid JSON payload received. {detail}"
    return field_violations([("", msg)])


def missing_thought_signature(function_name: str, position: int) -> GeminiError:
    return invalid_argument(
        "Function call is missing a thought_signature in functionCall parts. This is required"
        " for tools to work correctly, and missing thought_signature may lead to degraded model"
        f" performance. Additional data, function call `default_api:{function_name}` , position"
        f" {position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures"
        " for more details."
    )


def rate_limited(
    model: str, *, quota_id: str, retry_delay: str | None, quota_value: str | None
) -> GeminiError:
    violation: dict[str, Any] = {
        "quotaMetric": QUOTA_METRIC_REQUESTS,
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
    }
    if quota_value is not None:
        violation["quotaValue"] = quota_value
    details: list[dict[str, Any]] = [
        {"@type": _T + "QuotaFailure", "violations": [violation]},
        {
            "@type": _T + "Help",
            "links": [
                {"description": "Learn more about Gemini API quotas", "url": RATE_LIMIT_DOCS}
            ],
        },
    ]
    if retry_delay is not None:
        details.append({"@type": _T + "RetryInfo", "retryDelay": retry_delay})
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more"
        f" information on this error, head to: {RATE_LIMIT_DOCS}. To monitor your current usage,"
        " head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric:"
        f" {QUOTA_METRIC_REQUESTS}, limit: {quota_value or 0}, model: {model}"
    )
    if retry_delay is not None:
        message += f"\nPlease retry in {retry_delay}."
    return GeminiError(429, "RESOURCE_EXHAUSTED", message, details)


def rate_limited_bare() -> GeminiError:
    return GeminiError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")


def echo_key(key: str) -> GeminiError:
    """A 500 whose message echoes the caller's key, in a URL and a header (some front ends
    do): what a gateway must never pass on to its clients or its logs."""
    return GeminiError(
        500,
        "INTERNAL",
        f"Backend error calling https://generativelanguage.googleapis.com/v1beta/models"
        f"?key={key} with x-goog-api-key: {key} and Authorization: Bearer {key}",
    )


def internal() -> GeminiError:
    return GeminiError(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in"
        " https://developers.generativeai.google/guide/troubleshooting",
    )


def overloaded() -> GeminiError:
    return GeminiError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def deadline() -> GeminiError:
    return GeminiError(
        504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."
    )


def for_status(status: int) -> GeminiError:
    """A plain server error by HTTP code, for mid-stream tails."""
    return {500: internal, 503: overloaded, 504: deadline}.get(status, internal)()
