"""Metrics, readiness and the admin API against the real server, driven over HTTP.

The metrics test scripts a scenario whose every count is known (round robin makes the
order of keys exact) and checks the scraped text, parsed by Prometheus' own parser.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import CLIENT_KEY, KEYS, Proxy, StartProxy
from trioproxy.admin.openapi import DOCUMENT

MODEL = "gemini-2.5-flash"
ADMIN = "admin-token-0123456789abcdef"
RIGHT = {"authorization": f"Bearer {ADMIN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape[(name, tuple(sorted(labels.items())))]


async def chat(proxy: Proxy) -> Any:
    async with proxy.client() as api:
        return await api.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": "hello there"}]
        )


async def test_metrics_after_a_scripted_scenario(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(
        ("key-a", "key-b", "key-c"),
        gateway={"breaker_threshold": 1, "breaker_backoff": 300},
    )
    sim = proxy.sim
    first = [await chat(proxy) for _ in range(3)]
    assert [r.headers["x-trioproxy-key"] for r in first] == ["key-a", "key-b", "key-c"]
    sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
    fourth = await chat(proxy)  # a: 429 (cools 600 s), then b
    sim.faults.add("internal", key=KEYS["key-c"])
    fifth = await chat(proxy)  # c: 500 (its breaker opens), a cooling, then b
    sixth = await chat(proxy)  # c open, a cooling: b
    assert [r.headers["x-trioproxy-key"] for r in (fourth, fifth, sixth)] == ["key-b"] * 3
    by_b = (first[1], fourth, fifth, sixth)
    prompt_b = sum(r.parse().usage.prompt_tokens for r in by_b)
    assert prompt_b > 0
    await proxy.settled()

    async with httpx.AsyncClient(base_url=proxy.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    scrape = samples(response.text)

    route = "/v1/chat/completions"
    assert value(scrape, "trioproxy_requests_total", route=route, model=MODEL, status="200") == 6
    assert value(scrape, "trioproxy_retries_total", route=route) == 2
    assert value(scrape, "trioproxy_request_duration_seconds_count", route=route) == 6
    assert value(scrape, "trioproxy_overhead_seconds_count", route=route) == 6
    outcomes = {
        (key, outcome): value(scrape, "trioproxy_key_outcomes_total", key=key, outcome=outcome)
        for (name, labels) in scrape
        if name == "trioproxy_key_outcomes_total"
        for key, outcome in [(dict(labels)["key"], dict(labels)["outcome"])]
    }
    assert outcomes == {
        ("key-a", "success"): 1,
        ("key-a", "rate_limited"): 1,
        ("key-b", "success"): 4,
        ("key-c", "success"): 1,
        ("key-c", "failure"): 1,
    }
    dimension = "requests_per_minute"
    assert value(scrape, "trioproxy_key_rate_limited_total", key="key-a", dimension=dimension) == 1
    states = {
        key: state
        for (name, labels), v in scrape.items()
        if name == "trioproxy_key_state" and v == 1
        for key, state in [(dict(labels)["key"], dict(labels)["state"])]
    }
    assert states == {"key-a": "cooling", "key-b": "closed", "key-c": "open"}
    cooldown = value(scrape, "trioproxy_key_cooldown_seconds", key="key-a", model=MODEL)
    assert 590 < cooldown <= 600
    assert value(scrape, "trioproxy_usable_keys", model=MODEL) == 1
    assert value(scrape, "trioproxy_usable_keys", model="*") == 2
    assert value(scrape, "trioproxy_key_health_score", key="key-c") == 0.5
    assert value(scrape, "trioproxy_requests_in_flight") == 1  # the scrape itself
    assert value(scrape, "trioproxy_key_tokens_total", key="key-b", kind="prompt") == prompt_b
    assert value(scrape, "trioproxy_config_reloads_total", outcome="failed") == 0
    assert value(scrape, "trioproxy_state_store_degraded") == 0
    for secret in KEYS.values():
        assert secret not in response.text


def admin_calls(name: str) -> list[tuple[str, str, Any]]:
    """Every (method, path, body) the OpenAPI document declares, for key `name`."""
    calls = []
    for path, item in DOCUMENT["paths"].items():
        for method in ("get", "post", "put", "patch"):
            if method in item:
                body: Any = {} if method in ("post", "patch") else None
                calls.append((method.upper(), path.replace("{name}", name), body))
    return calls


async def test_every_admin_endpoint_wants_the_token(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(("key-a", "key-b"), admin_token=ADMIN)
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        exported = (await http.get("/admin/state", headers=RIGHT)).json()
        for method, path, body in admin_calls("key-a"):
            if (method, path) == ("PUT", "/admin/state"):
                body = exported
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": ADMIN}):
                answer = await http.request(method, path, json=body, headers=headers)
                assert answer.status_code == 401, (method, path, headers)
                assert "admin token" in answer.json()["error"]["message"]
            if path == "/admin/reload":
                continue  # no keys.yaml on disk in this harness: covered by the lifecycle tests
            answer = await http.request(method, path, json=body, headers=RIGHT)
            assert answer.status_code == 200, (method, path, answer.text)
        # The status summary is the admin's too.
        assert (await http.get("/v1/status")).status_code == 401
        status = (await http.get("/v1/status", headers=RIGHT)).json()
        assert status["keys"] == 2


async def test_the_admin_api_is_off_without_a_token(proxy: Proxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        answer = await http.get("/admin/keys", headers=RIGHT)
    assert answer.status_code == 404
    assert "TRIOPROXY_ADMIN_TOKEN" in answer.json()["error"]["message"]


def test_the_openapi_document_describes_every_admin_route() -> None:
    from trioproxy.app import create_app
    from trioproxy.config import build_config
    from trioproxy.runtime import Runtime

    document = {"upstreams": [{"name": "g", "type": "gemini", "keys": [{"name": "a", "key": "k"}]}]}
    app = create_app(runtime=Runtime(build_config(document, "t.yaml", {}), simulated=False))
    routes = {
        (method, rule.rule.replace("<path:name>", "{name}"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented


async def test_disable_stops_traffic_enable_restores_it_and_readyz_follows(
    start_proxy: StartProxy,
) -> None:
    proxy = await start_proxy(("key-a", "key-b"), admin_token=ADMIN)
    sim = proxy.sim
    async with httpx.AsyncClient(base_url=proxy.url, headers=RIGHT) as http:
        disabled = await http.post("/admin/keys/key-a/disable", json={"reason": "billing"})
        assert disabled.json()["state"] == "disabled"
        assert disabled.json()["disabled"] == "admin: billing"
        before = sim.count(key=KEYS["key-a"])
        assert {(await chat(proxy)).headers["x-trioproxy-key"] for _ in range(4)} == {"key-b"}
        assert sim.count(key=KEYS["key-a"]) == before
        assert (await http.get("/readyz")).status_code == 200

        await http.post("/admin/keys/key-b/disable")
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert any("no usable key" in reason for reason in ready.json()["reasons"])
        async with proxy.client() as api:
            with pytest.raises(openai.APIStatusError, match="No key can serve"):
                await api.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}]
                )

        assert (await http.post("/admin/keys/key-a/enable")).json()["state"] == "closed"
        assert (await http.get("/readyz")).status_code == 200
        assert {(await chat(proxy)).headers["x-trioproxy-key"] for _ in range(3)} == {"key-a"}
        assert sim.count(key=KEYS["key-a"]) == before + 3

        # Overrides: key-a to tier 1 sends everything to key-b (enabled again).
        await http.post("/admin/keys/key-b/enable")
        patched = await http.patch("/admin/keys/key-a", json={"priority": 1, "weight": 3})
        body = patched.json()
        assert (body["priority"], body["weight"]) == (1, 3)
        assert body["configured"] == {"weight": 1.0, "priority": 0}
        assert body["override"] == {"weight": 3.0, "priority": 1}
        assert {(await chat(proxy)).headers["x-trioproxy-key"] for _ in range(4)} == {"key-b"}
        cleared = (await http.patch("/admin/keys/key-a", json={"priority": None})).json()
        assert cleared["override"] == {"weight": 3.0, "priority": None}
        bad = await http.patch("/admin/keys/key-a", json={"weight": -1})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "weight"
        assert (await http.post("/admin/keys/nope/enable")).status_code == 404
        decisions = (await http.get("/admin/decisions", params={"limit": 2})).json()
        assert len(decisions["decisions"]) == 2
        assert (await http.get("/admin/decisions", params={"limit": "x"})).status_code == 400


def test_admin_routes_reach_key_names_with_slashes() -> None:
    from trioproxy.app import create_app
    from trioproxy.config import build_config
    from trioproxy.runtime import Runtime

    document = {"upstreams": [{"name": "g", "type": "gemini", "keys": [{"name": "a", "key": "k"}]}]}
    app = create_app(runtime=Runtime(build_config(document, "t.yaml", {}), simulated=False))
    urls = app.url_map.bind("localhost")
    assert urls.match("/admin/keys/team/a/disable", "POST") == (
        "admin.disable_key",
        {"name": "team/a"},
    )
    assert urls.match("/admin/keys/team/a", "PATCH") == ("admin.override_key", {"name": "team/a"})


async def test_usage_events_cover_proxied_requests_only_and_clients_that_leave(
    start_proxy: StartProxy,
) -> None:
    proxy = await start_proxy(("key-a",), clients=True)
    emitted: list[dict[str, Any]] = []
    arrived = trio.Event()
    events = proxy.app.events
    assert events is not None
    emit = events.emit

    def capture(event: dict[str, Any]) -> None:
        emitted.append(dict(event))
        arrived.set()
        emit(event)

    events.emit = capture  # type: ignore[method-assign]

    async with httpx.AsyncClient(base_url=proxy.url) as http:
        # Not usage: a wrong client key, an unknown route.
        wrong = {"authorization": "Bearer nope"}
        assert (await http.post("/v1/chat/completions", headers=wrong, json={})).status_code == 401
        right = {"authorization": f"Bearer {CLIENT_KEY}"}
        assert (await http.get("/v1/nothing-here", headers=right)).status_code == 404
        assert emitted == []
        # A client that leaves while the upstream thinks: still recorded, as cancelled.
        proxy.sim.faults.add("latency", seconds=5)
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        with trio.move_on_after(0.5):
            await http.post("/v1/chat/completions", headers=right, json=body)
        with trio.fail_after(10):
            await arrived.wait()
    (event,) = emitted
    assert event["cancelled"] is True
    assert event["status"] is None
    assert (event["model"], event["key"], event["client"]) == (MODEL, "key-a", "e2e")
    assert "_info" not in event
