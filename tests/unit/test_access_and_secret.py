from __future__ import annotations

import json
import logging

import pytest

from trioproxy.access import LOOPBACK_CALLER, authenticate
from trioproxy.config.model import ClientSpec
from trioproxy.errors import AuthenticationFailed, PermissionDenied
from trioproxy.providers.gemini.toolcalls import decode_tool_call_id, encode_tool_call_id
from trioproxy.secret import Secret, scrub

CLIENTS = [ClientSpec("ci", Secret("sk-ci")), ClientSpec("web", Secret("sk-web"))]


def test_configured_clients_need_a_matching_bearer() -> None:
    assert authenticate(CLIENTS, "Bearer sk-web", "10.0.0.9").name == "web"
    assert authenticate(CLIENTS, "bearer   sk-ci ", "::1").name == "ci"
    for header in (None, "", "Bearer", "Basic sk-ci", "Bearer sk-nope"):
        with pytest.raises(AuthenticationFailed):
            authenticate(CLIENTS, header, "127.0.0.1")


def test_without_clients_only_loopback_is_served() -> None:
    assert authenticate([], None, "127.0.0.1") is LOOPBACK_CALLER
    assert authenticate([], None, "::1") is LOOPBACK_CALLER
    for address in ("10.1.2.3", "192.168.0.1", None, "not-an-ip"):
        with pytest.raises(PermissionDenied):
            authenticate([], "Bearer whatever", address)


def test_secret_is_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("AIza-top-secret")
    texts = [
        str(secret),
        repr(secret),
        f"{secret}",
        f"{secret!r:>40}",
        "%s" % secret,  # noqa: UP031 - %-formatting is what logging does
        str([secret]),
        str({"k": secret}),
    ]
    caplog.set_level(logging.INFO)
    logging.getLogger("test").info("key %s", secret)
    texts.append(caplog.text)
    assert all("AIza-top-secret" not in text for text in texts)
    assert all(secret.fingerprint in text for text in texts[:5])
    with pytest.raises(TypeError):
        json.dumps({"k": secret})
    assert secret.reveal() == "AIza-top-secret"
    assert secret == Secret("AIza-top-secret")
    assert secret.matches("AIza-top-secret")
    assert not secret.matches("AIza-top-secreT")


def test_tool_call_id_round_trip() -> None:
    plain = decode_tool_call_id(encode_tool_call_id(None, None))
    assert (plain.gemini_id, plain.signature) == (None, None)
    generated = encode_tool_call_id(None, "CikBcsjaf+/=")
    assert generated.startswith("call_")
    assert decode_tool_call_id(generated).signature == "CikBcsjaf+/="
    assert decode_tool_call_id(generated).gemini_id is None
    gemini = decode_tool_call_id(encode_tool_call_id("abc123", "SIG"))
    assert (gemini.gemini_id, gemini.signature) == ("abc123", "SIG")
    foreign = decode_tool_call_id("call_QwErTy")  # an id from OpenAI or another gateway
    assert (foreign.gemini_id, foreign.signature) == (None, None)


def test_scrub_removes_credentials_an_upstream_echoes() -> None:
    mine = Secret("my-own-key-0123")
    google_shaped = "AIza" + "Q" * 35
    text = (
        f"bad: https://generativelanguage.googleapis.com/v1beta/models?key={google_shaped}"
        f"&alt=sse, x-goog-api-key: other-key, Authorization: Bearer tok.en, "
        f"'authorization': 'token-2' and my-own-key-0123 again"
    )
    cleaned = scrub(text, mine)
    for leaked in (google_shaped, "other-key", "tok.en", "token-2", "my-own-key-0123"):
        assert leaked not in cleaned
    assert "?key=[redacted]&alt=sse" in cleaned
    assert "Bearer [redacted]" in cleaned
    assert scrub("nothing secret here: 429 quota exceeded") == (
        "nothing secret here: 429 quota exceeded"
    )
