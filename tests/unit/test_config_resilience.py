"""keys.yaml fields of the resilience engine, and the worked example of
docs/resilience.md, executed."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from trioproxy.config import ConfigError, build_config
from trioproxy.config.model import LimitSpec
from trioproxy.pool import KeyPool, Pick, RateLimited, Transient, Unavailable
from trioproxy.pool.reset import seconds_until_daily_reset

DOCS = Path(__file__).parents[2] / "docs" / "resilience.md"


def config_with(key: dict[str, Any], upstream: dict[str, Any] | None = None, **gateway: Any) -> Any:
    document = {
        "upstreams": [
            {
                "name": "g",
                "type": "gemini",
                **(upstream or {}),
                "keys": [{"name": "k", "key": "secret-k", **key}],
            }
        ],
        "gateway": gateway,
    }
    return build_config(document, "keys.yaml", {})


def problems(
    key: dict[str, Any], upstream: dict[str, Any] | None = None, **gateway: Any
) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_with(key, upstream, **gateway)
    assert "secret-k" not in str(caught.value)
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_the_new_fields_build_frozen_values() -> None:
    config = config_with(
        {
            "project": "p1",
            "weight": 2.5,
            "priority": 1,
            "limits": {"gemini-2.5-pro*": {"rpm": 5, "rpd": 100}, "*": {"tpm": 1000}},
        },
        {"policy": "least_inflight"},
        max_wait=0,
        breaker_threshold=5,
        breaker_max_backoff=60,
    )
    [key] = config.keys
    assert (key.project, key.weight, key.priority) == ("p1", 2.5, 1)
    assert key.limits == (
        LimitSpec("gemini-2.5-pro*", rpm=5, rpd=100),
        LimitSpec("*", tpm=1000),
    )
    assert config.upstreams[0].policy == "least_inflight"
    assert (config.gateway.max_wait, config.gateway.breaker_threshold) == (0, 5)
    assert config.gateway.breaker_max_backoff == 60


def test_defaults() -> None:
    config = config_with({})
    [key] = config.keys
    assert (key.project, key.weight, key.priority, key.limits) == (None, 1.0, 0, ())
    assert config.upstreams[0].policy == "round_robin"
    gateway = config.gateway
    assert (gateway.max_wait, gateway.breaker_threshold, gateway.breaker_backoff) == (5, 3, 5)
    assert (gateway.breaker_max_backoff, gateway.health_window) == (300, 300)


@pytest.mark.parametrize(
    ("key", "upstream", "gateway", "expected"),
    [
        (
            {},
            {"policy": "random"},
            {},
            "upstreams[0].policy: must be one of: round_robin, weighted, least_inflight",
        ),
        ({"weight": 0}, None, {}, "upstreams[0].keys[0].weight: must be at least 0.001"),
        ({"weight": "heavy"}, None, {}, "upstreams[0].keys[0].weight: must be a number, got str"),
        ({"priority": -1}, None, {}, "upstreams[0].keys[0].priority: must be at least 0"),
        ({"priority": 0.5}, None, {}, "upstreams[0].keys[0].priority: must be a whole number"),
        ({"project": ""}, None, {}, "upstreams[0].keys[0].project: must not be empty"),
        (
            {"limits": ["rpm"]},
            None,
            {},
            "upstreams[0].keys[0].limits: must be a mapping of model glob: limits, got a list",
        ),
        (
            {"limits": {"*": {"rpm": 0}}},
            None,
            {},
            "upstreams[0].keys[0].limits.*.rpm: must be at least 1",
        ),
        (
            {"limits": {"*": {"rpm": 1.5}}},
            None,
            {},
            "upstreams[0].keys[0].limits.*.rpm: must be a whole number",
        ),
        (
            {"limits": {"*": {"rph": 5}}},
            None,
            {},
            "upstreams[0].keys[0].limits.*.rph: unknown field (expected one of: rpd, rpm, tpm)",
        ),
        (
            {"limits": {"*": {}}},
            None,
            {},
            "upstreams[0].keys[0].limits.*: must set at least one of rpm, rpd, tpm",
        ),
        ({}, None, {"breaker_threshold": 2.5}, "gateway.breaker_threshold: must be a whole number"),
        ({}, None, {"max_wait": -1}, "gateway.max_wait: must be at least 0"),
        ({}, None, {"breaker_backoff": 0}, "gateway.breaker_backoff: must be at least 0.001"),
    ],
)
def test_bad_values_are_reported_with_their_path(
    key: dict[str, Any], upstream: dict[str, Any] | None, gateway: dict[str, Any], expected: str
) -> None:
    assert problems(key, upstream, **gateway) == [expected]


def _documented_example() -> Any:
    [block] = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.S)[:1]
    env = {name: f"secret-{name.lower()}" for name in re.findall(r"\$\{(\w+)\}", block)}
    return build_config(yaml.safe_load(block), str(DOCS), env)


def test_the_documented_worked_example_behaves_as_described() -> None:
    config = _documented_example()
    pool = KeyPool(
        config.keys,
        settings=config.gateway,
        policies={u.name: u.policy for u in config.upstreams},
        random=random.Random(11).random,
    )
    wall = 1_780_000_000.0
    model = "gemini-2.5-flash"

    def serve(now: float, model: str = model) -> str:
        pick = pool.choose(model, now, wall + now)
        assert isinstance(pick, Pick), pick
        pool.release(pick, now)
        return pick.key.name

    # 1. free-1 : free-2 : paid = 1 : 1 : 4, emergency idle. (20 calls a minute for 30
    # minutes: the project stays under its budgets of 10 a minute and 250 a day.)
    counts = Counter(serve(i * 3.0) for i in range(600))
    assert set(counts) == {"free-1", "free-2", "paid"}
    assert counts["paid"] / 600 == pytest.approx(4 / 6, abs=0.05)
    # 2. A burst: the project's two keys take 10 calls in the minute between them, then
    # only paid serves.
    burst = Counter(serve(2000.0) for _ in range(100))
    assert (burst["free-1"] + burst["free-2"], burst["paid"]) == (10, 90)
    # 3. A project-level 429 on free-2 cools free-1 too.
    free_2 = Pick(pool.by_name["free-2"], model)
    minute = ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",)
    pool.report(free_2, RateLimited(26.4, quota_ids=minute), now=3000.0, wall=wall)
    assert {serve(3000.0) for _ in range(20)} == {"paid"}
    assert serve(3000.0, model="gemini-2.5-pro") in {"free-1", "free-2", "paid"}
    # 5. paid's breaker opens: tier 1 takes over.
    for _ in range(3):
        pool.report(Pick(pool.by_name["paid"], model), Transient("HTTP 503"), now=3001, wall=wall)
    assert serve(3001.0) == "emergency"
    assert 3005.0 <= (pool.next_probe_at(3001.0) or 0) <= 3006.0
    # 4. A daily 429 cools the project until midnight Pacific, whatever retryDelay says.
    day = ("GenerateRequestsPerDayPerProjectPerModel-FreeTier",)
    pool.report(free_2, RateLimited(4.5, per_day=True, quota_ids=day), now=3030.0, wall=wall)
    [cooling] = pool.by_name["free-1"].cooldowns.snapshot(3030.0)[model]
    assert cooling.per_day
    assert cooling.until - 3030.0 == seconds_until_daily_reset(wall)
    # 7. Every key out of daily quota: 429 until midnight, and no SDK retries.
    for name in ("paid", "emergency"):
        pool.report(
            Pick(pool.by_name[name], model),
            RateLimited(4.5, per_day=True, quota_ids=day),
            now=3030.0,
            wall=wall,
        )
    refused = pool.choose(model, 3030.0, wall)
    assert isinstance(refused, Unavailable)
    assert refused.quota
    assert refused.per_day
    assert refused.retry_after == pytest.approx(seconds_until_daily_reset(wall))


def test_keys_of_one_project_must_declare_the_same_limits() -> None:
    document = {
        "upstreams": [
            {
                "name": "g",
                "type": "gemini",
                "keys": [
                    {"name": "a", "key": "s-a", "project": "p", "limits": {"*": {"rpm": 5}}},
                    {"name": "b", "key": "s-b", "project": "p", "limits": {"*": {"rpm": 9}}},
                    {"name": "c", "key": "s-c", "project": "q", "limits": {"*": {"rpm": 9}}},
                ],
            }
        ]
    }
    with pytest.raises(ConfigError) as caught:
        build_config(document, "keys.yaml", {})
    assert [f"{p.path}: {p.message}" for p in caught.value.problems] == [
        "upstreams[0].keys[1].limits: keys of project 'p' share one quota and must declare "
        "the same limits (differs from upstreams[0].keys[0])"
    ]
