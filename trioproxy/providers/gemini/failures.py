"""Gemini error responses -> what they mean for the key (an Outcome) and for the client.

One function, `classify_error`, reads any Gemini error body (the Google envelope, its
list-wrapped form, or something that is not JSON at all) and decides both at once, so the
pool and the client never disagree about what happened. Reference: gemini-api.md 4 and 6.7.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from trioproxy.errors import ProxyError, UpstreamError
from trioproxy.pool.outcome import AuthFailure, ClientFault, Outcome, RateLimited, Transient
from trioproxy.pool.quota import dimension_of, is_daily
from trioproxy.secret import Secret, looks_secret, scrub

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)(s|ms)\s*$")
_RETRY_IN_MESSAGE = re.compile(r"[Pp]lease retry in (\d+(?:\.\d+)?)(s|ms)")
_TYPE_PREFIX = "type.googleapis.com/google.rpc."


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: Outcome
    error: ProxyError


def parse_duration(text: str) -> float | None:
    """A protobuf Duration string ("26s", "45.837906927s", "373.8ms") in seconds."""
    match = _DURATION.match(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


# Identifiers Gemini puts in an error (status, ErrorInfo.reason, quotaId) are upper-case
# words, dashes and dots. They travel further than the message (into a key's disable
# reason, error codes, decision records, persisted cooldowns), so anything else is
# dropped rather than scrubbed: an echoed secret cannot ride along in them.
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def _token(value: object, secret: Secret | None = None) -> str:
    text = str(value) if value is not None else ""
    if not _TOKEN.fullmatch(text) or looks_secret(text):
        return ""
    if secret is not None and secret.reveal() in text:
        return ""
    return text


def classify_error(status: int, body: bytes | str, *, secret: Secret | None = None) -> Failure:
    """Classify one upstream error. `secret` (the key of the attempt), and anything that
    looks like a credential, is scrubbed from the text passed on, in case the upstream
    echoes it."""
    error = _envelope(body)
    message = str(error.get("message") or f"upstream returned HTTP {status}")
    message = scrub(message, *([secret] if secret is not None else []))
    google_status = _token(error.get("status"), secret)
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {_token(d.get("reason"), secret) or "None" for d in details if _is(d, "ErrorInfo")}

    if status == 429:
        return _rate_limited(message, details, secret)
    if "API_KEY_INVALID" in reasons or status in (401, 403):
        reason = next(iter(reasons - {"None"}), None) or google_status or f"HTTP {status}"
        error_out = UpstreamError(
            message,
            status=status if status != 400 else 401,
            type="authentication_error",
            code="upstream_auth_failed",
        )
        return Failure(AuthFailure(reason), error_out)
    if status >= 500 or status == 408 or status < 400:
        code = google_status.lower() or "upstream_error"
        return Failure(
            Transient(f"HTTP {status} {google_status}".strip()),
            UpstreamError(message, status=status, type="server_error", code=code),
        )
    if status == 404:
        return Failure(
            ClientFault("NOT_FOUND"),
            UpstreamError(
                message, status=404, type="invalid_request_error", code="model_not_found"
            ),
        )
    return Failure(
        ClientFault(google_status or f"HTTP {status}"),
        UpstreamError(
            message,
            status=status if 400 <= status < 500 else 502,
            type="invalid_request_error",
            code=google_status.lower() or None,
        ),
    )


def _rate_limited(
    message: str, details: list[dict[str, Any]], secret: Secret | None = None
) -> Failure:
    retry_after: float | None = None
    quota_ids: list[str] = []
    for detail in details:
        if _is(detail, "RetryInfo"):
            retry_after = parse_duration(str(detail.get("retryDelay", "")))
        elif _is(detail, "QuotaFailure"):
            quota_ids += [
                _token(v.get("quotaId"), secret)
                for v in detail.get("violations") or []
                if isinstance(v, dict) and _token(v.get("quotaId"), secret)
            ]
        elif _is(detail, "ErrorInfo") and retry_after is None:
            # The Code Assist flavour puts the hint in ErrorInfo metadata instead.
            hint = (detail.get("metadata") or {}).get("quotaResetDelay")
            retry_after = parse_duration(str(hint)) if hint else None
    if retry_after is None:
        match = _RETRY_IN_MESSAGE.search(message)
        if match:
            retry_after = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    per_day = any(is_daily(dimension_of(quota_id)) for quota_id in quota_ids)
    outcome = RateLimited(retry_after, per_day=per_day, quota_ids=tuple(quota_ids))
    error = UpstreamError(
        message,
        status=429,
        type="insufficient_quota" if per_day else "rate_limit_exceeded",
        code="insufficient_quota" if per_day else "rate_limit_exceeded",
    )
    return Failure(outcome, error)


def _envelope(body: bytes | str) -> dict[str, Any]:
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return {}
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def _is(detail: dict[str, Any], kind: str) -> bool:
    return detail.get("@type") == _TYPE_PREFIX + kind
