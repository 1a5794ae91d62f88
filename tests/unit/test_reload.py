"""Reloading keys.yaml: which state a new pool inherits, and the reloader's verdicts.

The pool part is pure (explicit times); the reloader part builds real gateways from a
file on disk, with an httpx client that is never used to send anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.unit.test_pool import MODEL, NOON_UTC, lend, make_pool, pick, spec
from trioproxy.config.model import GatewaySettings, KeySpec, LimitSpec
from trioproxy.gateway import Gateway
from trioproxy.pool import KeyPool, RateLimited, Transient, Unavailable
from trioproxy.pool.breaker import State
from trioproxy.reload import Reloader
from trioproxy.runtime import resolve
from trioproxy.secret import Secret
from trioproxy.settings import Settings

MINUTE_IDS = ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",)


def reloaded(old: KeyPool, *keys: Any, **settings: Any) -> KeyPool:
    specs = [spec(k) if isinstance(k, str) else k for k in keys]
    return KeyPool(specs, settings=GatewaySettings(**settings), random=lambda: 0.0, previous=old)


def fail(pool: KeyPool, times: int, now: float = 0.0) -> None:
    for _ in range(times):
        chosen = lend(pool, now)
        pool.report(chosen, Transient("503"), now=now, wall=NOON_UTC + now)
        pool.release(chosen, now)


def test_a_key_with_the_same_name_and_secret_keeps_all_its_state() -> None:
    old = make_pool("a", "b", breaker_threshold=1)
    chosen = lend(old)
    assert chosen.key.name == "a"
    old.report(chosen, RateLimited(30.0, quota_ids=MINUTE_IDS), now=0.0, wall=NOON_UTC)
    old.release(chosen, 0.0)
    fail(old, 1)  # b: its breaker opens
    new = reloaded(old, "a", "b", "c", breaker_threshold=1)
    assert new.by_name["a"] is old.by_name["a"]
    assert new.by_name["b"].breaker.state is State.OPEN
    # a is still cooling and b still open: only the new key serves.
    assert {pick(new, now=1.0) for _ in range(3)} == {"c"}
    assert pick(new, now=31.0) in ("a", "c")


def test_a_changed_secret_is_a_new_credential_and_starts_fresh() -> None:
    old = make_pool("a", "b", breaker_threshold=1)
    fail(old, 1)  # a opens
    assert old.by_name["a"].breaker.state is State.OPEN
    new = reloaded(old, _rotated("a"), "b")
    assert new.by_name["a"] is not old.by_name["a"]
    assert new.by_name["a"].breaker.state is State.CLOSED


def _rotated(name: str) -> KeySpec:
    return KeySpec(name, Secret(f"rotated-{name}"), "gemini")


def test_a_removed_key_gets_nothing_new_and_its_calls_finish_on_the_old_pool() -> None:
    old = make_pool("a", "b")
    held = lend(old)
    assert held.key.name == "a"
    new = reloaded(old, "b")
    assert {pick(new) for _ in range(4)} == {"b"}
    old.report(held, RateLimited(10.0, quota_ids=MINUTE_IDS), now=0.0, wall=NOON_UTC)
    old.release(held, 0.0)
    assert held.key.inflight == 0
    assert "a" not in new.by_name


def test_least_inflight_follows_calls_lent_by_the_previous_pool() -> None:
    specs = [spec("a"), spec("b")]
    policies = {"gemini": "least_inflight"}
    old = KeyPool(specs, policies=policies, random=lambda: 0.0)
    first = lend(old)
    second = lend(old)
    assert {first.key.name, second.key.name} == {"a", "b"}
    new = KeyPool(specs, policies=policies, random=lambda: 0.0, previous=old)
    # Both keys carry one call; releasing b's through the OLD pool must make b the
    # least loaded key in the NEW pool.
    b_pick = first if first.key.name == "b" else second
    old.release(b_pick, 0.0)
    assert lend(new).key.name == "b"


def test_project_keys_keep_sharing_one_scope_across_a_reload() -> None:
    old = make_pool(spec("a", project="p"), spec("b", project="p"), "c")
    chosen = lend(old)
    old.report(chosen, RateLimited(60.0, quota_ids=MINUTE_IDS), now=0.0, wall=NOON_UTC)
    old.release(chosen, 0.0)
    new = reloaded(old, spec("a", project="p"), spec("b", project="p"), "c", spec("d", project="p"))
    # The project's cooldown covers the new project key too.
    assert {pick(new, now=1.0) for _ in range(4)} == {"c"}
    assert new.by_name["d"].quota is new.by_name["a"].quota


def test_state_changes_are_marked_for_the_writer_across_pools() -> None:
    old = make_pool("a")
    new = reloaded(old, "a")
    assert new.touched is old.touched
    pick(old)
    assert old.by_name["a"] in new.touched
    usage = new.by_name["a"].usage
    assert (usage.requests, usage.failures) == (1, 0)


# The reloader, against a real file.


def write(path: Path, keys: dict[str, str], upstream: str = "gemini", **extra: Any) -> None:
    document = {
        "upstreams": [
            {
                "name": upstream,
                "type": "gemini",
                "base_url": "http://upstream.invalid",
                "keys": [{"name": name, "key": secret} for name, secret in keys.items()],
            }
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(document))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def make_reloader(path: Path, http: httpx.AsyncClient) -> tuple[Reloader, list[Gateway]]:
    settings = Settings(config_path=path, simulate="off")
    runtime = resolve(settings, {})
    current = [Gateway(runtime.config, http)]
    reloader = Reloader(
        settings, simulated=False, current=lambda: current[-1], swap=current.append, env={}
    )
    reloader.remember(runtime.raw)
    return reloader, current


async def test_a_valid_edit_is_applied_and_reported(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    path = tmp_path / "keys.yaml"
    write(path, {"a": "secret-1", "b": "secret-2"})
    reloader, gateways = await make_reloader(path, http)
    write(path, {"a": "secret-1", "b": "secret-new", "c": "secret-3"})
    result = await reloader.reload(trigger="test")
    assert (result.outcome, result.added, result.removed, result.replaced) == (
        "applied",
        ("c",),
        (),
        ("b",),
    )
    assert len(gateways) == 2
    assert gateways[1].pool.by_name["a"] is gateways[0].pool.by_name["a"]
    assert gateways[1].dispatcher.decisions is gateways[0].dispatcher.decisions
    assert reloader.status.counts == {"applied": 1}


async def test_an_unchanged_file_is_no_reload_unless_forced(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    path = tmp_path / "keys.yaml"
    write(path, {"a": "secret-1"})
    reloader, gateways = await make_reloader(path, http)
    assert (await reloader.reload(trigger="test")).outcome == "unchanged"
    assert len(gateways) == 1
    assert (await reloader.reload(trigger="SIGHUP", force=True)).outcome == "applied"
    assert len(gateways) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("upstreams: [unclosed", "YAML error"),
        ("upstreams:\n  - name: gemini\n    type: gemini\n    keys: 7\n", "upstreams[0].keys"),
        (
            "upstreams:\n  - name: gemini\n    type: gemini\n    keys:\n"
            "      - {name: a, key: '${TRIOPROXY_TEST_UNSET}'}\n",
            "TRIOPROXY_TEST_UNSET",
        ),
    ],
)
async def test_an_invalid_edit_changes_nothing_and_is_counted(
    tmp_path: Path, http: httpx.AsyncClient, text: str, expected: str, caplog: Any
) -> None:
    path = tmp_path / "keys.yaml"
    write(path, {"a": "secret-distinctive-1"})
    reloader, gateways = await make_reloader(path, http)
    path.write_text(text)
    result = await reloader.reload(trigger="test")
    assert result.outcome == "failed"
    assert any(expected in problem for problem in result.problems), result.problems
    assert len(gateways) == 1
    assert reloader.status.counts == {"failed": 1}
    logged = [r for r in caplog.records if r.getMessage().startswith("config reload failed")]
    assert expected in str(logged[0].fields)  # type: ignore[attr-defined]
    assert "secret-distinctive" not in caplog.text + str(logged[0].fields)  # type: ignore[attr-defined]
    # A later fix applies as usual.
    write(path, {"a": "secret-distinctive-1", "b": "secret-2"})
    assert (await reloader.reload(trigger="test")).outcome == "applied"
    assert gateways[-1].pool.by_name["a"] is gateways[0].pool.by_name["a"]


async def test_switching_to_the_simulation_needs_a_restart(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    path = tmp_path / "keys.yaml"
    write(path, {"a": "secret-1"})
    reloader, gateways = await make_reloader(path, http)
    reloader.settings = Settings(config_path=path, simulate="auto")
    path.write_text(path.read_text().replace("secret-1", "${TRIOPROXY_TEST_UNSET}"))
    result = await reloader.reload(trigger="test")
    assert result.outcome == "failed"
    assert "restart" in result.problems[0]
    assert len(gateways) == 1


def test_pool_usage_model_is_counted_per_key() -> None:
    pool = make_pool("a")
    chosen = lend(pool)
    pool.report(chosen, Transient("503"), now=0.0, wall=NOON_UTC)
    pool.record_tokens(chosen, 10, 5, now=0.0, wall=NOON_UTC)
    pool.release(chosen, 0.0)
    usage = pool.by_name["a"].usage
    assert (usage.requests, usage.failures, usage.prompt_tokens, usage.completion_tokens) == (
        1,
        1,
        10,
        5,
    )


def test_a_rotated_key_does_not_inherit_its_old_secrets_cooldowns() -> None:
    old = make_pool("a", "b")
    chosen = lend(old)
    assert chosen.key.name == "a"
    old.report(chosen, RateLimited(3600.0, quota_ids=MINUTE_IDS), now=0.0, wall=NOON_UTC)
    old.release(chosen, 0.0)
    new = reloaded(old, _rotated("a"), "b")
    assert new.by_name["a"].quota is not old.by_name["a"].quota
    assert "a" in {pick(new, now=1.0) for _ in range(4)}


def test_changing_one_models_limits_keeps_the_other_models_budgets() -> None:
    flash, pro = LimitSpec("gemini-2.5-flash*", rpd=2), LimitSpec("gemini-2.5-pro*", rpd=5)
    old = make_pool(spec("a", limits=(flash, pro)))
    pick(old)
    pick(old)
    assert isinstance(old.choose(MODEL, 1.0, NOON_UTC + 1.0), Unavailable)
    new = reloaded(old, spec("a", limits=(flash, LimitSpec("gemini-2.5-pro*", rpd=9))))
    # Flash's limit did not change: today's two requests still count.
    assert isinstance(new.choose(MODEL, 2.0, NOON_UTC + 2.0), Unavailable)
    newer = reloaded(new, spec("a", limits=(LimitSpec("gemini-2.5-flash*", rpd=3), pro)))
    assert pick(newer, now=3.0) == "a"  # a new flash limit starts a new count


async def test_a_request_admitted_before_a_reload_finds_its_keys_moved_upstream(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    path = tmp_path / "keys.yaml"
    write(path, {"a": "secret-1"})
    reloader, gateways = await make_reloader(path, http)
    write(path, {"a": "secret-1"}, upstream="google")
    assert (await reloader.reload(trigger="test")).outcome == "applied"
    old, new = gateways
    key = old.pool.by_name["a"]
    assert key is new.pool.by_name["a"]
    # The old gateway has no "google" upstream; the key is served by its successor's.
    assert old.api_for(key) is new.apis["google"]
