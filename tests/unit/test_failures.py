"""Gemini error bodies (real shapes from the reference, section 4.3) -> outcome + client error."""

from __future__ import annotations

import json

import pytest

from trioproxy.pool import AuthFailure, ClientFault, RateLimited, Transient
from trioproxy.providers.gemini.failures import classify_error, parse_duration
from trioproxy.secret import Secret

RPM_429 = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": (
                            "generativelanguage.googleapis.com/generate_content_free_tier_requests"
                        ),
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                        "quotaValue": "10",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45.837906927s"},
        ],
    }
}


def body(document: object) -> bytes:
    return json.dumps(document, indent=2).encode() + b"\n"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("26s", 26.0),
        ("45.837906927s", 45.837906927),
        ("373.801628ms", 0.373801628),
        ("0s", 0.0),
        ("soon", None),
        ("", None),
        ("12", None),
    ],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_per_minute_429() -> None:
    failure = classify_error(429, body(RPM_429))
    assert failure.outcome == RateLimited(
        45.837906927,
        per_day=False,
        quota_ids=("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",),
    )
    assert failure.error.status == 429
    assert failure.error.code == "rate_limit_exceeded"


def test_per_day_429_is_marked_per_day() -> None:
    document = json.loads(json.dumps(RPM_429))
    document["error"]["details"][0]["violations"][0]["quotaId"] = (
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    )
    failure = classify_error(429, body(document))
    assert isinstance(failure.outcome, RateLimited)
    assert failure.outcome.per_day is True
    assert failure.error.code == "insufficient_quota"


def test_429_hint_from_message_and_bare_429() -> None:
    message = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "Quota exceeded.\nPlease retry in 7.967587226s.",
        }
    }
    assert classify_error(429, body(message)).outcome == RateLimited(7.967587226)
    bare = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    assert classify_error(429, body(bare)).outcome == RateLimited(None)


def test_list_wrapped_and_non_json_bodies() -> None:
    assert classify_error(429, body([RPM_429])).outcome.retry_after == pytest.approx(45.837906927)  # type: ignore[union-attr]
    failure = classify_error(502, b"<html>Bad Gateway</html>")
    assert failure.outcome == Transient("HTTP 502")
    assert failure.error.message == "upstream returned HTTP 502"


def test_invalid_key_is_auth_failure_and_scrubbed() -> None:
    secret = "AIzaSyLEAKED"
    document = {
        "error": {
            "code": 400,
            "message": f"API key not valid: {secret}",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        }
    }
    failure = classify_error(400, body(document), secret=Secret(secret))
    assert failure.outcome == AuthFailure("API_KEY_INVALID")
    assert secret not in failure.error.message
    assert failure.error.status == 401


def test_forbidden_and_unauthenticated_are_auth_failures() -> None:
    leaked = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "Your API key was reported as leaked.",
        }
    }
    assert classify_error(403, body(leaked)).outcome == AuthFailure("PERMISSION_DENIED")
    assert isinstance(classify_error(401, b"").outcome, AuthFailure)


@pytest.mark.parametrize("status", [500, 503, 504, 408])
def test_server_errors_are_transient_and_keep_status(status: int) -> None:
    document = {
        "error": {"code": status, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    }
    failure = classify_error(status, body(document))
    assert isinstance(failure.outcome, Transient)
    assert failure.error.status == status
    assert failure.error.type == "server_error"


def test_client_faults_are_not_retried_and_keep_message() -> None:
    not_found = {
        "error": {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "models/gemini-9 is not found for API version v1beta",
        }
    }
    failure = classify_error(404, body(not_found))
    assert failure.outcome == ClientFault("NOT_FOUND")
    assert failure.error.status == 404
    assert failure.error.code == "model_not_found"
    invalid = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad field"}}
    failure = classify_error(400, body(invalid))
    assert failure.outcome == ClientFault("INVALID_ARGUMENT")
    assert (failure.error.status, failure.error.message) == (400, "bad field")
