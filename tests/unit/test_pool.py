"""The pool's decisions, driven with explicit times (no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trioproxy.config.model import KeySpec
from trioproxy.pool import (
    AuthFailure,
    ClientFault,
    KeyPool,
    Pick,
    RateLimited,
    Success,
    Transient,
    Unavailable,
)
from trioproxy.secret import Secret

MODEL = "gemini-2.5-flash"
# 2026-06-01 12:00 UTC = 05:00 PDT: the next Pacific midnight is 19 h later.
NOON_UTC = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()


def make_pool(*names: str) -> KeyPool:
    return KeyPool(
        [KeySpec(n, Secret(f"secret-{n}"), "gemini") for n in names], default_cooldown=60
    )


def pick(
    pool: KeyPool, now: float = 0.0, tried: dict[str, str] | None = None, model: str = MODEL
) -> str:
    choice = pool.choose(model, now, tried or {})
    assert isinstance(choice, Pick), choice
    return choice.key.name


def test_round_robin_over_usable_keys() -> None:
    pool = make_pool("a", "b", "c")
    assert [pick(pool) for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_tried_keys_are_skipped_within_a_request() -> None:
    pool = make_pool("a", "b")
    assert pick(pool, tried={"a": "HTTP 503"}) == "b"
    choice = pool.choose(MODEL, 0, {"a": "HTTP 503", "b": "HTTP 500"})
    assert isinstance(choice, Unavailable)
    assert choice.retry_after is None
    assert [k["state"] for k in choice.keys] == ["failed", "failed"]
    assert choice.keys[0]["reason"] == "HTTP 503"


def test_429_cools_only_that_key_and_model_for_the_retry_delay() -> None:
    pool = make_pool("a", "b")
    a = pool.keys[0]
    pool.report(a, MODEL, RateLimited(26.5), now=100.0, wall=NOON_UTC)
    assert [pick(pool, now=100.0) for _ in range(3)] == ["b", "b", "b"]
    assert pick(pool, now=126.4) == "b"
    # The same key still serves another model meanwhile.
    assert pick(pool, now=110.0, model="gemini-2.5-pro") in {"a", "b"}
    # At exactly the end of the cooldown the key is back.
    names = {pick(pool, now=126.5) for _ in range(2)}
    assert names == {"a", "b"}


def test_429_without_hint_uses_default_cooldown() -> None:
    pool = make_pool("a")
    pool.report(pool.keys[0], MODEL, RateLimited(None), now=0.0, wall=NOON_UTC)
    choice = pool.choose(MODEL, 59.0, {})
    assert isinstance(choice, Unavailable)
    assert choice.retry_after == pytest.approx(1.0)
    assert pick(pool, now=60.0) == "a"


def test_all_cooling_reports_earliest_recovery() -> None:
    pool = make_pool("a", "b")
    pool.report(pool.keys[0], MODEL, RateLimited(40), now=0.0, wall=NOON_UTC)
    pool.report(pool.keys[1], MODEL, RateLimited(12.25), now=0.0, wall=NOON_UTC)
    choice = pool.choose(MODEL, 2.0, {})
    assert isinstance(choice, Unavailable)
    assert choice.retry_after == pytest.approx(10.25)
    assert choice.per_day is False
    assert [k["state"] for k in choice.keys] == ["cooling", "cooling"]


def test_per_day_quota_cools_until_pacific_midnight_not_retry_delay() -> None:
    pool = make_pool("a")
    pool.report(
        pool.keys[0],
        MODEL,
        RateLimited(26, per_day=True, quota_ids=("GenerateRequestsPerDay",)),
        now=0.0,
        wall=NOON_UTC,
    )
    choice = pool.choose(MODEL, 3600.0, {})
    assert isinstance(choice, Unavailable)
    assert choice.per_day is True
    assert choice.retry_after == pytest.approx(19 * 3600 - 3600)


def test_auth_failure_disables_the_key_for_good() -> None:
    pool = make_pool("a", "b")
    pool.report(pool.keys[0], MODEL, AuthFailure("API_KEY_INVALID"), now=0.0, wall=NOON_UTC)
    assert [pick(pool, now=t) for t in (0.0, 1e6, 1e9)] == ["b", "b", "b"]
    assert pool.describe(pool.keys[0], MODEL, 0.0) == {
        "name": "a",
        "state": "disabled",
        "reason": "auth: API_KEY_INVALID",
    }


def test_all_disabled_is_unavailable_without_retry_after() -> None:
    pool = make_pool("a")
    pool.report(pool.keys[0], MODEL, AuthFailure("PERMISSION_DENIED"), now=0.0, wall=NOON_UTC)
    choice = pool.choose(MODEL, 0.0, {})
    assert isinstance(choice, Unavailable)
    assert choice.retry_after is None


def test_cooling_plus_disabled_still_reports_retry_after() -> None:
    pool = make_pool("a", "b")
    pool.report(pool.keys[0], MODEL, AuthFailure("API_KEY_INVALID"), now=0.0, wall=NOON_UTC)
    pool.report(pool.keys[1], MODEL, RateLimited(5), now=0.0, wall=NOON_UTC)
    choice = pool.choose(MODEL, 0.0, {})
    assert isinstance(choice, Unavailable)
    assert choice.retry_after == pytest.approx(5)


@pytest.mark.parametrize("outcome", [Success(), Transient("HTTP 503"), ClientFault("400")])
def test_other_outcomes_leave_state_alone(outcome: object) -> None:
    pool = make_pool("a")
    pool.report(pool.keys[0], MODEL, outcome, now=0.0, wall=NOON_UTC)  # type: ignore[arg-type]
    assert pool.keys[0].disabled is None
    assert pool.keys[0].cooldowns == {}


def test_diagnostics_never_contain_the_secret() -> None:
    pool = make_pool("a")
    pool.report(pool.keys[0], MODEL, RateLimited(3), now=0.0, wall=NOON_UTC)
    choice = pool.choose(MODEL, 0.0, {})
    assert isinstance(choice, Unavailable)
    assert "secret-a" not in repr(choice)
