"""Projects and project tokens through the real server: the management API creates them,
the official openai SDK calls with them, and the simulated Gemini shows what got through.

Expiry reads the gateway's injected wall clock (moved by the test); the rate limits read
the trio clock, which these tests freeze with `mock_clock` and jump by hand (sockets are
real, so the clock must not autojump while a request waits on one).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
import trio.testing

from tests.e2e.conftest import CLIENT_KEY, Proxy, StartProxy
from trioproxy.tenancy.openapi import DOCUMENT

MANAGEMENT = "manage-e2e-token-51c0"
MODEL = "gemini-2.5-flash"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


class Wall:
    """The gateway's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Manage:
    def __init__(self, proxy: Proxy, token: str = MANAGEMENT) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"{proxy.url}/manage", headers={"authorization": f"Bearer {token}"}
        )

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        # Encoded here, ASCII-escaped: a test may send a lone surrogate ("\\ud800"), which
        # JSON allows and UTF-8 cannot carry.
        content = json.dumps(body) if body is not None else None
        return await self.http.request(method, path, content=content)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.call(method, path, body)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()


async def _setup(
    start_proxy: StartProxy, project: dict[str, Any] | None = None, **options: Any
) -> tuple[Proxy, Manage]:
    proxy = await start_proxy(management_token=MANAGEMENT, **options)
    manage = Manage(proxy)
    await manage.ok("POST", "/projects", {"name": "billing", **(project or {})})
    return proxy, manage


async def _chat(proxy: Proxy, token: str, model: str = MODEL) -> Any:
    return await proxy.client(token).chat.completions.create(model=model, messages=MESSAGES)


async def test_token_lifecycle_use_then_expire(start_proxy: StartProxy) -> None:
    wall = Wall()
    proxy, manage = await _setup(start_proxy, wall=wall)
    minted = await manage.ok("POST", "/tokens", {"project": "billing", "expires_in": "1h"})
    token = minted["token"]
    assert token.startswith("tp-")
    assert minted["state"] == "active"

    unary = await _chat(proxy, token)
    stream = await proxy.client(token).chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    streamed_usage = [chunk.usage async for chunk in stream if chunk.usage is not None]
    assert unary.usage is not None
    assert len(streamed_usage) == 1
    await proxy.settled()

    # The usage totals are the SDK's own counts, for the token and for its project.
    expected = {
        "requests": 2,
        "prompt_tokens": unary.usage.prompt_tokens + streamed_usage[0].prompt_tokens,
        "completion_tokens": unary.usage.completion_tokens + streamed_usage[0].completion_tokens,
    }
    for path in (f"/tokens/{minted['id']}", "/projects/billing"):
        usage = (await manage.ok("GET", path))["usage"]
        assert {name: usage[name] for name in expected} == expected
        assert usage["last_used_at"] is not None

    calls = len(proxy.sim.recorder.records)
    wall.now += 3600
    with pytest.raises(openai.AuthenticationError) as expired:
        await _chat(proxy, token)
    assert expired.value.body["message"] == "Invalid or expired token."  # type: ignore[index]
    assert (await manage.ok("GET", f"/tokens/{minted['id']}"))["state"] == "expired"
    assert len(proxy.sim.recorder.records) == calls  # refused before any upstream call
    # A renewed expiry brings the same token back.
    await manage.ok("PATCH", f"/tokens/{minted['id']}", {"expires_in": 60})
    assert (await _chat(proxy, token)).choices[0].message.content


async def test_revocation_applies_to_the_very_next_request(start_proxy: StartProxy) -> None:
    proxy, manage = await _setup(start_proxy)
    minted = await manage.ok("POST", "/tokens", {"project": "billing"})
    other = await manage.ok("POST", "/tokens", {"project": "billing"})
    await _chat(proxy, minted["token"])
    revoked = await manage.ok("POST", f"/tokens/{minted['id']}/revoke")
    assert revoked["state"] == "revoked"
    assert revoked["active"] is False
    with pytest.raises(openai.AuthenticationError) as refused:
        await _chat(proxy, minted["token"])
    assert refused.value.body["message"] == "Invalid or expired token."  # type: ignore[index]
    # The same answer as for a token that never existed: nothing tells them apart.
    with pytest.raises(openai.AuthenticationError) as unknown:
        await _chat(proxy, "tp-" + "x" * 43)
    assert unknown.value.body == refused.value.body
    await _chat(proxy, other["token"])  # the project's other token is untouched
    # Deleting the project takes its tokens with it, at once.
    deleted = await manage.ok("DELETE", "/projects/billing")
    assert deleted == {"deleted": "billing", "tokens_deleted": 2}
    with pytest.raises(openai.AuthenticationError):
        await _chat(proxy, other["token"])


async def test_rate_limits_answer_429_with_a_true_retry_after(
    start_proxy: StartProxy, mock_clock: trio.testing.MockClock
) -> None:
    proxy, manage = await _setup(start_proxy, project={"limits": {"requests_per_hour": 5}})
    minted = await manage.ok(
        "POST", "/tokens", {"project": "billing", "limits": {"requests_per_minute": 2}}
    )
    token = minted["token"]
    await _chat(proxy, token)
    await _chat(proxy, token)
    calls = len(proxy.sim.recorder.records)
    with pytest.raises(openai.RateLimitError) as limited:
        await _chat(proxy, token)
    error = limited.value
    assert error.body["type"] == "requests"  # type: ignore[index]
    assert error.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert f"token {minted['id']} on requests per minute" in error.message
    retry_after = int(error.response.headers["retry-after"])
    # Counted for a whole minute (plus at most one 1 s slot), never less.
    assert 60 <= retry_after <= 61
    assert error.response.headers["x-ratelimit-limit-requests"] == "2"
    assert len(proxy.sim.recorder.records) == calls  # no upstream call for a refusal

    mock_clock.jump(retry_after - 1.5)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy, token)
    mock_clock.jump(1.5)
    await _chat(proxy, token)  # allowed again once the window has passed

    # The project's own limit (5 an hour) counts its tokens together: 3 used so far.
    second = await manage.ok("POST", "/tokens", {"project": "billing"})
    await _chat(proxy, second["token"])
    await _chat(proxy, second["token"])
    with pytest.raises(openai.RateLimitError) as project_limited:
        await _chat(proxy, second["token"])
    assert "project billing on requests per hour" in project_limited.value.message
    assert int(project_limited.value.response.headers["retry-after"]) > 3000
    usage = (await manage.ok("GET", "/projects/billing"))["usage"]
    assert usage["requests"] == 5  # refusals are not usage


async def test_tokens_per_day(start_proxy: StartProxy) -> None:
    proxy, manage = await _setup(start_proxy)
    minted = await manage.ok(
        "POST", "/tokens", {"project": "billing", "limits": {"tokens_per_day": 1}}
    )
    await _chat(proxy, minted["token"])  # admitted under the limit; it spends more than 1
    with pytest.raises(openai.RateLimitError) as limited:
        await _chat(proxy, minted["token"])
    assert limited.value.body["type"] == "tokens"  # type: ignore[index]
    assert "tokens per day" in limited.value.message


async def test_a_project_is_confined_to_its_models_and_upstreams(
    start_proxy: StartProxy,
) -> None:
    proxy = await start_proxy(
        keys=("key-a", "key-b"),
        management_token=MANAGEMENT,
        # Out of attempts on 429s before the pool is found all cooling: the verdict is
        # then the pool's view for this project, which must leave the spare out.
        gateway={"max_attempts": 2},
        more_upstreams=(
            {
                "name": "spare",
                "type": "gemini",
                "base_url": "http://127.0.0.1:9",  # never reached by this project
                "keys": [{"name": "key-spare", "key": "AIzaSyE2E-spare-key-000000000000000"}],
            },
        ),
    )
    manage = Manage(proxy)
    await manage.ok(
        "POST",
        "/projects",
        {"name": "narrow", "models": ["gemini-2.5-flash*"], "upstreams": ["gemini"]},
    )
    token = (await manage.ok("POST", "/tokens", {"project": "narrow"}))["token"]
    calls = len(proxy.sim.recorder.records)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        await _chat(proxy, token, model="gemini-2.5-pro")
    assert denied.value.body["code"] == "model_not_allowed"  # type: ignore[index]
    assert len(proxy.sim.recorder.records) == calls

    # Its only upstream's keys are cooling: it must not spill onto the spare upstream, and
    # its 429 gives the true wait for *its* keys (the healthy spare would say "retry now").
    for key in ("key-a", "key-b"):
        proxy.sim.faults.add("rate_limit_minute", key=proxy.key_of(key), retry_delay="600s")
    with pytest.raises(openai.RateLimitError) as limited:
        await _chat(proxy, token)
    assert int(limited.value.response.headers["retry-after"]) >= 590
    spare = proxy.app.gateway.pool.by_name["key-spare"]
    assert spare.usage.today(time.time()).requests == 0  # never lent to this project
    models = await proxy.client(token).models.list()
    assert models.data
    assert all(m.id.startswith("gemini-2.5-flash") for m in models.data)

    # An upstream keys.yaml does not define is refused, naming the field.
    bad = await manage.call("PATCH", "/projects/narrow", {"upstreams": ["nope"]})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "upstreams"


async def test_static_client_keys_keep_working_beside_tokens(start_proxy: StartProxy) -> None:
    proxy, manage = await _setup(start_proxy, clients=True)
    token = (await manage.ok("POST", "/tokens", {"project": "billing"}))["token"]
    await _chat(proxy, CLIENT_KEY)
    await _chat(proxy, token)
    with pytest.raises(openai.AuthenticationError):
        await _chat(proxy, "sk-not-a-client")
    with pytest.raises(openai.AuthenticationError):
        await _chat(proxy, "tp-not-a-token")


async def test_the_management_api_is_off_without_its_token(start_proxy: StartProxy) -> None:
    off = await start_proxy()
    answer = await Manage(off).call("GET", "/projects")
    assert answer.status_code == 404
    assert "TRIOPROXY_MANAGEMENT_TOKEN" in answer.json()["error"]["message"]


async def test_management_api_needs_its_token(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(management_token=MANAGEMENT, clients=True)
    wrong = await Manage(proxy, token="nope").call("GET", "/projects")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "Missing or incorrect management token."
    # The management token is not a client credential, nor the other way round.
    with pytest.raises(openai.APIStatusError):
        await _chat(proxy, MANAGEMENT)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param"),
    [
        ("POST", "/projects", {}, 400, "name"),
        ("POST", "/projects", {"name": "Bad Name"}, 400, "name"),
        (
            "POST",
            "/projects",
            {"name": "x", "limits": {"requests_per_minute": -1}},
            400,
            "limits.requests_per_minute",
        ),
        ("POST", "/projects", {"name": "x", "limits": {"rpm": 5}}, 400, "limits.rpm"),
        ("POST", "/projects", {"name": "x", "models": "gemini-*"}, 400, "models"),
        ("POST", "/projects", {"name": "x", "metadata": {"a": 1}}, 400, "metadata"),
        ("POST", "/projects", {"name": "x", "colour": "red"}, 400, "colour"),
        ("POST", "/projects", [1, 2], 400, None),
        ("POST", "/projects", {"name": "billing"}, 409, "name"),
        ("POST", "/tokens", {}, 400, "project"),
        ("POST", "/tokens", {"project": "nope"}, 400, "project"),
        ("POST", "/tokens", {"project": "billing", "expires_in": -5}, 400, "expires_in"),
        ("POST", "/tokens", {"project": "billing", "expires_in": "soon"}, 400, "expires_in"),
        ("POST", "/tokens", {"project": "billing", "expires_in": "400d"}, 400, "expires_in"),
        ("POST", "/tokens", {"project": "billing", "name": 7}, 400, "name"),
        ("POST", "/tokens", {"project": "billing", "name": "\ud800"}, 400, "name"),
        ("POST", "/projects", {"name": "x", "description": "\udfff"}, 400, "description"),
        ("POST", "/projects", {"name": "x", "metadata": {"k": "\ud800"}}, 400, "metadata"),
        ("GET", "/tokens/tp-pasted-instead-of-its-id", None, 400, None),
        ("PATCH", "/projects/billing", {"name": "renamed"}, 400, "name"),
        ("PATCH", "/projects/nope", {"description": "x"}, 404, None),
        ("GET", "/tokens/tok_nope", None, 404, None),
        ("GET", "/tokens?project=nope", None, 404, None),
        ("POST", "/tokens/tok_nope/revoke", None, 404, None),
        ("DELETE", "/projects/nope", None, 404, None),
    ],
)
async def test_management_api_bad_input_is_a_clear_4xx_and_changes_nothing(
    start_proxy: StartProxy,
    method: str,
    path: str,
    body: Any,
    status: int,
    param: str | None,
) -> None:
    _, manage = await _setup(start_proxy)
    before = (await manage.ok("GET", "/projects"), await manage.ok("GET", "/tokens"))
    answer = await manage.call(method, path, body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"]
    assert error["param"] == param
    after = (await manage.ok("GET", "/projects"), await manage.ok("GET", "/tokens"))
    assert after == before


async def test_concurrent_updates_of_different_limits_both_land(
    start_proxy: StartProxy,
) -> None:
    _, manage = await _setup(start_proxy)
    token = (await manage.ok("POST", "/tokens", {"project": "billing"}))["id"]
    for path in ("/projects/billing", f"/tokens/{token}"):
        for _ in range(10):
            await manage.ok("PATCH", path, {"limits": None})
            async with trio.open_nursery() as nursery:
                for limit in ("requests_per_minute", "requests_per_hour"):
                    nursery.start_soon(manage.ok, "PATCH", path, {"limits": {limit: 10}})
            limits = (await manage.ok("GET", path))["limits"]
            assert limits == {
                "requests_per_minute": 10,
                "requests_per_hour": 10,
                "tokens_per_day": None,
            }


async def test_management_crud_and_the_openapi_document(start_proxy: StartProxy) -> None:
    proxy, manage = await _setup(
        start_proxy,
        project={"description": "payments", "metadata": {"team": "pay"}, "models": ["gemini-*"]},
    )
    project = await manage.ok("GET", "/projects/billing")
    assert project["metadata"] == {"team": "pay"}
    assert project["models"] == ["gemini-*"]
    assert project["upstreams"] is None
    assert project["tokens"] == 0
    updated = await manage.ok(
        "PATCH", "/projects/billing", {"limits": {"requests_per_minute": 9}, "models": None}
    )
    assert updated["limits"]["requests_per_minute"] == 9
    assert updated["models"] is None
    # A partial limits update keeps the limits it does not name.
    updated = await manage.ok("PATCH", "/projects/billing", {"limits": {"tokens_per_day": 100}})
    assert updated["limits"] == {
        "requests_per_minute": 9,
        "requests_per_hour": None,
        "tokens_per_day": 100,
    }
    first = await manage.ok("POST", "/tokens", {"project": "billing", "name": "ci"})
    second = await manage.ok("POST", "/tokens", {"project": "billing"})
    listed = (await manage.ok("GET", "/tokens?project=billing"))["tokens"]
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert all("token" not in t and "hash" not in t for t in listed)  # shown once only
    assert (await manage.ok("GET", "/projects/billing"))["tokens"] == 2
    assert (await manage.ok("DELETE", f"/tokens/{second['id']}")) == {"deleted": second["id"]}
    assert (await manage.call("GET", f"/tokens/{second['id']}")).status_code == 404

    document = await manage.ok("GET", "/openapi.json")
    assert document == DOCUMENT
    routes = {
        (rule.rule.replace("<name>", "{name}").replace("<token_id>", "{id}"), method.lower())
        for rule in proxy.app.url_map.iter_rules()
        if rule.rule.startswith("/manage/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    described = {
        (path, method)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == described
