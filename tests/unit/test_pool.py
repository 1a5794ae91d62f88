"""The pool's decisions, driven with explicit times (no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from trioproxy.config.model import GatewaySettings, KeySpec, LimitSpec
from trioproxy.pool import (
    AuthFailure,
    ClientFault,
    KeyPool,
    Outcome,
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
MINUTE_IDS = ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",)
DAY_IDS = ("GenerateRequestsPerDayPerProjectPerModel-FreeTier",)


def spec(name: str, **fields: Any) -> KeySpec:
    return KeySpec(name, Secret(f"secret-{name}"), fields.pop("upstream", "gemini"), **fields)


def make_pool(*keys: str | KeySpec, **settings: Any) -> KeyPool:
    specs = [spec(k) if isinstance(k, str) else k for k in keys]
    return KeyPool(specs, settings=GatewaySettings(**settings), random=lambda: 0.0)


def lend(pool: KeyPool, now: float = 0.0, model: str = MODEL, **options: Any) -> Pick:
    choice = pool.choose(model, now, NOON_UTC + now, **options)
    assert isinstance(choice, Pick), choice
    return choice


def pick(pool: KeyPool, now: float = 0.0, model: str = MODEL, **options: Any) -> str:
    """Lend, succeed and release: the name of the key that served."""
    chosen = lend(pool, now, model, **options)
    pool.report(chosen, Success(), now=now, wall=NOON_UTC + now)
    pool.release(chosen, now)
    return chosen.key.name


def peek(pool: KeyPool, now: float = 0.0, model: str = MODEL) -> str:
    """Lend and release without a result: which key would serve, changing no state."""
    chosen = lend(pool, now, model)
    pool.release(chosen, now)
    return chosen.key.name


def refuse(pool: KeyPool, now: float = 0.0, model: str = MODEL, **options: Any) -> Unavailable:
    choice = pool.choose(model, now, NOON_UTC + now, **options)
    assert isinstance(choice, Unavailable), choice
    return choice


def fail(pool: KeyPool, name: str, outcome: Outcome, now: float = 0.0, model: str = MODEL) -> None:
    """Report `outcome` for a call on key `name` (lent directly, whatever the policy)."""
    key = pool.by_name[name]
    chosen = Pick(key, model, epoch=key.breaker.epoch)
    pool.report(chosen, outcome, now=now, wall=NOON_UTC + now)


def test_round_robin_over_usable_keys() -> None:
    pool = make_pool("a", "b", "c")
    assert [pick(pool) for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_tried_keys_are_skipped_within_a_request_and_reported() -> None:
    pool = make_pool("a", "b")
    assert pick(pool, exclude={"a": "HTTP 503"}) == "b"
    skipped: list[tuple[str, str]] = []
    choice = refuse(
        pool, exclude={"a": "HTTP 503", "b": "HTTP 500"}, on_skip=lambda *s: skipped.append(s)
    )
    assert choice.retry_after is None
    assert not choice.quota
    assert [(k["state"], k["reason"]) for k in choice.keys] == [
        ("failed", "HTTP 503"),
        ("failed", "HTTP 500"),
    ]
    assert skipped == [("a", "tried"), ("b", "tried")]


def test_429_cools_only_that_key_and_model_for_the_fractional_retry_delay() -> None:
    pool = make_pool("a", "b")
    fail(pool, "a", RateLimited(26.5, quota_ids=MINUTE_IDS), now=100.0)
    assert [pick(pool, now=100.0) for _ in range(3)] == ["b", "b", "b"]
    assert pick(pool, now=126.499) == "b"
    assert pick(pool, now=110.0, model="gemini-2.5-pro") == "a"  # another model: unaffected
    assert {pick(pool, now=126.5) for _ in range(2)} == {"a", "b"}  # back exactly on time


def test_429_without_hint_uses_the_default_cooldown() -> None:
    pool = make_pool("a", default_cooldown=60)
    fail(pool, "a", RateLimited(None))
    assert refuse(pool, now=59.0).retry_after == pytest.approx(1.0)
    assert pick(pool, now=60.0) == "a"


def test_all_cooling_reports_earliest_recovery_and_may_wait() -> None:
    pool = make_pool("a", "b")
    fail(pool, "a", RateLimited(40, quota_ids=MINUTE_IDS))
    fail(pool, "b", RateLimited(12.25, quota_ids=MINUTE_IDS))
    choice = refuse(pool, now=2.0)
    assert choice.quota
    assert not choice.per_day
    assert choice.retry_after == pytest.approx(10.25)
    assert choice.wait == pytest.approx(10.25)
    assert [(k["state"], k["reason"]) for k in choice.keys] == [
        ("cooling", "requests_per_minute"),
        ("cooling", "requests_per_minute"),
    ]


def test_daily_quota_cools_until_pacific_midnight_whatever_retry_delay_says() -> None:
    pool = make_pool("a")
    fail(pool, "a", RateLimited(4.5, per_day=True, quota_ids=DAY_IDS))
    choice = refuse(pool, now=3600.0)
    assert choice.quota
    assert choice.per_day
    assert choice.retry_after == pytest.approx(18 * 3600)
    assert pick(pool, now=19 * 3600) == "a"


def test_a_minute_429_never_shortens_a_running_daily_cooldown() -> None:
    pool = make_pool("a")
    fail(pool, "a", RateLimited(30, per_day=True, quota_ids=DAY_IDS))
    fail(pool, "a", RateLimited(5, quota_ids=MINUTE_IDS), now=1.0)
    assert refuse(pool, now=3.0).retry_after == pytest.approx(19 * 3600 - 3)
    assert {c.dimension for c in pool.keys[0].cooldowns.snapshot(3.0)[MODEL]} == {
        "requests_per_day",
        "requests_per_minute",
    }


def test_one_429_can_name_several_dimensions() -> None:
    pool = make_pool("a")
    ids = ("GenerateContentInputTokensPerModelPerMinute-FreeTier", *DAY_IDS)
    fail(pool, "a", RateLimited(7.9, per_day=True, quota_ids=ids))
    dims = {c.dimension: c.until for c in pool.keys[0].cooldowns.snapshot(0.0)[MODEL]}
    assert dims == {"tokens_per_minute": pytest.approx(7.9), "requests_per_day": 19 * 3600}


def test_keys_of_one_project_share_a_cooldown() -> None:
    pool = make_pool(spec("a", project="p1"), spec("b", project="p1"), spec("c", project="p2"))
    fail(pool, "a", RateLimited(30, quota_ids=MINUTE_IDS))
    assert {pick(pool, now=1.0) for _ in range(3)} == {"c"}
    [cooling_b] = pool.keys[1].cooldowns.snapshot(1.0)[MODEL]
    assert cooling_b.source == "a"
    assert cooling_b.until == 30
    assert pick(pool, now=1.0, model="gemini-2.5-pro") in {"a", "b", "c"}
    assert {pick(pool, now=30.0) for _ in range(3)} == {"a", "b", "c"}


def test_auth_failure_disables_the_key_until_a_probe_clears_it() -> None:
    pool = make_pool("a", "b", auth_recheck=3600)
    fail(pool, "a", AuthFailure("API_KEY_INVALID"))
    assert [pick(pool, now=t) for t in (0.0, 10.0, 3000.0)] == ["b", "b", "b"]
    assert pool.claim_probes(3599.0) == []
    [probe] = pool.claim_probes(3600.0)
    assert probe.probe
    assert probe.key.name == "a"
    pool.report(probe, AuthFailure("API_KEY_INVALID"), now=3600.0, wall=NOON_UTC)
    pool.release(probe, 3600.0)
    assert pool.next_probe_at(3600.0) == 7200.0
    [probe] = pool.claim_probes(7200.0)
    pool.report(probe, Success(), now=7200.0, wall=NOON_UTC)
    pool.release(probe, 7200.0)
    assert {pick(pool, now=7200.0) for _ in range(2)} == {"a", "b"}


def test_all_disabled_is_unavailable_without_retry_after() -> None:
    pool = make_pool("a")
    fail(pool, "a", AuthFailure("PERMISSION_DENIED"))
    choice = refuse(pool)
    assert choice.all_disabled
    assert choice.retry_after is None
    assert choice.wait is None
    assert choice.keys == [{"name": "a", "state": "disabled", "reason": "auth: PERMISSION_DENIED"}]


def test_cooling_plus_disabled_is_still_a_quota_answer() -> None:
    pool = make_pool("a", "b")
    fail(pool, "a", AuthFailure("API_KEY_INVALID"))
    fail(pool, "b", RateLimited(5))
    choice = refuse(pool)
    assert choice.quota
    assert choice.retry_after == pytest.approx(5)


def test_a_client_fault_changes_nothing() -> None:
    pool = make_pool("a")
    for _ in range(5):
        fail(pool, "a", ClientFault("INVALID_ARGUMENT"))
    key = pool.keys[0]
    assert key.disabled is None
    assert key.breaker.failures == 0
    assert key.health.counts(0.0) == (0, 0)


def test_diagnostics_never_contain_the_secret_and_are_bounded() -> None:
    pool = make_pool(*[f"k{i}" for i in range(50)])
    for i in range(50):
        fail(pool, f"k{i}", RateLimited(3))
    choice = refuse(pool)
    assert "secret-" not in repr(choice)
    assert len(choice.keys) == 21
    assert choice.keys[-1] == {"name": "... and 30 more keys"}


def test_priority_tiers_fill_tier_0_first() -> None:
    pool = make_pool(spec("a", priority=1), spec("b"), spec("c"), spec("d", priority=2))
    assert [pick(pool) for _ in range(4)] == ["b", "c", "b", "c"]
    fail(pool, "b", RateLimited(10))
    fail(pool, "c", RateLimited(10))
    assert [pick(pool, now=1.0) for _ in range(2)] == ["a", "a"]
    fail(pool, "a", RateLimited(10))
    assert pick(pool, now=1.0) == "d"
    assert pick(pool, now=10.0) == "b"


def test_upstreams_of_a_tier_take_turns() -> None:
    pool = make_pool(
        spec("a1", upstream="one"), spec("a2", upstream="one"), spec("b1", upstream="two")
    )
    assert [pick(pool) for _ in range(4)] == ["a1", "b1", "a2", "b1"]


def test_weighted_policy_follows_the_weights() -> None:
    import random

    specs = [spec("heavy", weight=3), spec("light", weight=1)]
    pool = KeyPool(specs, policies={"gemini": "weighted"}, random=random.Random(7).random)
    names = [pick(pool) for _ in range(4000)]
    assert 2850 < names.count("heavy") < 3150
    # Unusable keys are skipped, whatever their weight.
    fail(pool, "heavy", RateLimited(60))
    assert {pick(pool, now=1.0) for _ in range(50)} == {"light"}


def test_least_inflight_counts_streams_until_released() -> None:
    pool = KeyPool([spec("a"), spec("b"), spec("c")], policies={"gemini": "least_inflight"})
    first, second = lend(pool), lend(pool)
    assert (first.key.name, second.key.name) == ("a", "b")
    assert lend(pool).key.name == "c"
    pool.release(first, 0.0)
    assert lend(pool).key.name == "a"
    assert [k.inflight for k in pool.keys] == [1, 1, 1]
    pool.release(first, 0.0)  # releasing twice is harmless
    assert pool.keys[0].inflight == 1


def test_unhealthy_keys_are_used_only_when_nothing_healthy_is_left() -> None:
    pool = make_pool("a", "b", breaker_threshold=100, health_window=100)
    for _ in range(3):
        fail(pool, "a", Success())
    for _ in range(3):
        fail(pool, "a", Transient("HTTP 503"))  # 3 of 6 ok: not below one half
    assert {peek(pool) for _ in range(4)} == {"a", "b"}
    fail(pool, "a", Transient("HTTP 503"))  # 3 of 7 ok: unhealthy
    assert pool.keys[0].health.score(0.0) == pytest.approx(3 / 7)
    assert [peek(pool) for _ in range(3)] == ["b", "b", "b"]
    fail(pool, "b", RateLimited(10))
    assert peek(pool) == "a"
    # The window is time-bounded: old failures stop counting.
    assert pool.keys[0].health.score(110.0) == 1.0
    assert {peek(pool, now=110.0) for _ in range(2)} == {"a", "b"}


def test_breaker_opens_after_consecutive_failures_not_429s() -> None:
    pool = make_pool("a", "b", breaker_threshold=3, breaker_backoff=5)
    for _ in range(5):
        fail(pool, "a", RateLimited(0.001))
    fail(pool, "a", Transient("HTTP 503"))
    fail(pool, "a", Transient("HTTP 503"))
    fail(pool, "a", Success())  # a success resets the count
    fail(pool, "a", Transient("HTTP 503"))
    fail(pool, "a", Transient("HTTP 503"))
    assert pool.keys[0].breaker.state.value == "closed"
    fail(pool, "a", Transient("timeout"), now=1.0)
    assert pool.keys[0].breaker.state.value == "open"
    assert [pick(pool, now=t) for t in (1.0, 5.9)] == ["b", "b"]
    assert pool.next_probe_at(2.0) == 6.0


def test_half_open_admits_exactly_one_trial() -> None:
    pool = make_pool("a", "b", breaker_threshold=1, breaker_backoff=5)
    fail(pool, "a", Transient("HTTP 500"))
    fail(pool, "b", RateLimited(100))
    trial = lend(pool, now=5.0)
    assert trial.key.name == "a"
    assert trial.trial
    # While the trial is out nobody else gets the key (clients hear: try in a second).
    assert refuse(pool, now=5.0).keys[0] == {
        "name": "a",
        "state": "trial_in_flight",
        "retry_after": 1.0,
    }
    assert pool.claim_probes(5.0) == []
    pool.report(trial, Success(), now=6.0, wall=NOON_UTC)
    pool.release(trial, 6.0)
    assert [pick(pool, now=6.0) for _ in range(2)] == ["a", "a"]


def test_a_failed_trial_reopens_with_a_longer_backoff() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5, breaker_max_backoff=12)
    fail(pool, "a", Transient("HTTP 500"))
    for now, reopen in ((5.0, 15.0), (15.0, 27.0), (27.0, 39.0)):  # 5, 10, then the cap 12
        [probe] = pool.claim_probes(now)
        pool.report(probe, Transient("HTTP 500"), now=now, wall=NOON_UTC)
        pool.release(probe, now)
        assert pool.next_probe_at(now) == reopen


def test_an_abandoned_trial_frees_the_trial() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5)
    fail(pool, "a", Transient("HTTP 500"))
    trial = lend(pool, now=5.0)
    changes: list[None] = []
    pool.listeners.append(lambda: changes.append(None))
    pool.release(trial, 5.5)  # the client left before any result
    assert changes == [None]
    assert pool.next_probe_at(5.5) == 5.5
    assert [p.key.name for p in pool.claim_probes(5.5)] == ["a"]


def test_a_429_on_the_trial_proves_the_key_alive_not_serving() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5)
    fail(pool, "a", Transient("HTTP 500"))
    trial = lend(pool, now=5.0)
    pool.report(trial, RateLimited(2), now=5.0, wall=NOON_UTC)
    # Answered: the key takes calls again, but the backoff memory stays until a
    # generation succeeds.
    assert pool.keys[0].breaker.state.value == "probation"
    assert pool.keys[0].breaker.opens == 1
    assert refuse(pool, now=6.0).keys[0]["state"] == "cooling"


def test_a_breaker_probe_lent_before_an_auth_disable_cannot_re_enable() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5)
    old = Pick(pool.keys[0], MODEL, epoch=0)  # lent while the breaker was closed
    fail(pool, "a", Transient("HTTP 500"))
    [probe] = pool.claim_probes(5.0)
    pool.report(old, AuthFailure("PERMISSION_DENIED"), now=5.1, wall=NOON_UTC)
    pool.report(probe, Success(), now=5.2, wall=NOON_UTC)  # GET models still passes
    pool.release(probe, 5.2)
    assert pool.keys[0].disabled == "auth: PERMISSION_DENIED"


def test_an_old_trial_released_late_cannot_free_a_newer_trial() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5)
    fail(pool, "a", Transient("HTTP 500"))
    old_trial = lend(pool, now=5.0)
    fail(pool, "a", AuthFailure("API_KEY_INVALID"), now=5.1)  # disabled: a new epoch
    [recheck] = pool.claim_probes(3605.1)
    pool.report(recheck, Success(), now=3605.1, wall=NOON_UTC)  # re-enabled
    pool.release(recheck, 3605.1)
    fail(pool, "a", Transient("HTTP 500"), now=3606.0)  # opens again
    new_trial = lend(pool, now=3611.0)
    assert new_trial.trial
    pool.release(old_trial, 3611.5)  # the old trial's client finally leaves
    assert refuse(pool, now=3611.5).keys[0]["state"] == "trial_in_flight"


def test_rpm_budget_skips_the_key_before_it_earns_a_429() -> None:
    limited = spec("a", limits=(LimitSpec("gemini-2.5-*", rpm=2),))
    pool = make_pool(limited, "b")
    assert [pick(pool, now=t) for t in (0.0, 1.0, 2.0, 3.0)] == ["a", "b", "a", "b"]
    assert [pick(pool, now=4.0) for _ in range(2)] == ["b", "b"]
    assert pick(pool, now=4.0, model="gemini-embedding-001") == "a"  # glob does not match
    fail(pool, "b", RateLimited(100))
    choice = refuse(pool, now=10.0)
    assert choice.keys[0] == {
        "name": "a",
        "state": "budget",
        "reason": "rpm",
        "retry_after": 50.0,
        "per_day": False,
    }
    assert choice.quota
    assert choice.wait == pytest.approx(50.0)
    assert pick(pool, now=60.0) == "a"  # the first request left the sliding window


def test_rpd_budget_resets_at_pacific_midnight() -> None:
    pool = make_pool(spec("a", limits=(LimitSpec("*", rpd=2),)))
    assert [pick(pool, now=t) for t in (0.0, 60.0)] == ["a", "a"]
    choice = refuse(pool, now=3600.0)
    assert choice.per_day
    assert choice.retry_after == pytest.approx(18 * 3600)
    assert pick(pool, now=19 * 3600) == "a"


def test_tpm_budget_counts_reported_tokens() -> None:
    pool = make_pool(spec("a", limits=(LimitSpec("*", tpm=1000),)))
    first = lend(pool, now=0.0)
    pool.record_tokens(first, 600, 0, now=0.0, wall=NOON_UTC)
    second = lend(pool, now=10.0)
    pool.record_tokens(second, 500, 0, now=10.0, wall=NOON_UTC)
    assert refuse(pool, now=20.0).retry_after == pytest.approx(40.0)
    assert pick(pool, now=60.0) == "a"


def test_a_cooldowns_end_lets_one_call_through_before_the_rest() -> None:
    pool = make_pool("a", "b")
    fail(pool, "a", RateLimited(10, quota_ids=MINUTE_IDS))
    fail(pool, "b", RateLimited(20, quota_ids=MINUTE_IDS))
    thaw = lend(pool, now=10.0)
    assert thaw.key.name == "a"
    assert thaw.thaw is not None
    # Until the thaw call answers, a is held (an estimate: look again in a second).
    choice = refuse(pool, now=10.0)
    assert choice.keys[0] == {
        "name": "a",
        "state": "thawing",
        "retry_after": 2.0,
        "per_day": False,
    }
    assert choice.quota
    assert choice.wait == pytest.approx(2.0)
    pool.report(thaw, Success(), now=10.5, wall=NOON_UTC)
    pool.release(thaw, 10.5)
    assert [peek(pool, now=10.5) for _ in range(3)] == ["a", "a", "a"]


def test_an_abandoned_thaw_call_hands_the_thaw_to_the_next_call() -> None:
    pool = make_pool("a")
    fail(pool, "a", RateLimited(10))
    thaw = lend(pool, now=10.0)
    pool.release(thaw, 10.0)  # the client left
    again = lend(pool, now=10.0)
    assert again.thaw is not None
    pool.report(again, RateLimited(5), now=11.0, wall=NOON_UTC)  # still over quota
    pool.release(again, 11.0)
    assert refuse(pool, now=12.0).keys[0]["state"] == "cooling"
    assert lend(pool, now=16.0).thaw is not None


def test_keys_of_one_project_share_one_thaw_call() -> None:
    pool = make_pool(spec("a", project="p"), spec("b", project="p"), "c")
    fail(pool, "a", RateLimited(10))
    fail(pool, "c", RateLimited(60))
    thaw = lend(pool, now=10.0)
    assert thaw.thaw is not None
    # The project's one quota is being tested: its other key waits too.
    assert [k["state"] for k in refuse(pool, now=10.0).keys] == ["thawing", "thawing", "cooling"]


def test_a_slow_thaw_call_holds_the_others_back_for_at_most_the_thaw_window() -> None:
    pool = make_pool("a")
    fail(pool, "a", RateLimited(1))
    thaw = lend(pool, now=1.0)  # e.g. a long generation: no answer for minutes
    assert refuse(pool, now=2.9).wait == pytest.approx(0.1)
    later = lend(pool, now=3.0)
    assert later.thaw is None
    assert thaw.thaw is not None


def test_keys_share_a_project_budget() -> None:
    limits = (LimitSpec("*", rpm=3),)
    pool = make_pool(spec("a", project="p", limits=limits), spec("b", project="p", limits=limits))
    assert [pick(pool) for _ in range(3)] == ["a", "b", "a"]
    assert refuse(pool).keys[1]["state"] == "budget"


def test_a_healthy_key_of_another_upstream_beats_a_last_resort() -> None:
    pool = make_pool(spec("a1", upstream="one"), spec("b1", upstream="two"), health_window=100)
    for _ in range(5):
        fail(pool, "a1", Transient("HTTP 503"))
    pool.keys[0].breaker.reset()  # keep only the bad health
    assert [peek(pool) for _ in range(4)] == ["b1"] * 4


def test_results_from_before_the_breaker_opened_are_stale() -> None:
    pool = make_pool("a", "b", breaker_threshold=3, breaker_backoff=5)
    in_flight = [lend(pool) for _ in range(10)]
    mine = [p for p in in_flight if p.key.name == "a"]  # five calls on a
    for p in mine[:3]:
        pool.report(p, Transient("HTTP 503"), now=0.0, wall=NOON_UTC)
    assert pool.keys[0].breaker.state.value == "open"
    [probe] = pool.claim_probes(5.0)
    pool.report(probe, Success(), now=5.0, wall=NOON_UTC)
    pool.release(probe, 5.0)
    assert pool.keys[0].breaker.state.value == "probation"
    # A call lent before the breaker opened fails now: it says nothing new.
    pool.report(mine[3], Transient("HTTP 503"), now=5.5, wall=NOON_UTC)
    assert pool.keys[0].breaker.state.value == "probation"
    fresh = Pick(pool.keys[0], MODEL, epoch=pool.keys[0].breaker.epoch)
    pool.report(fresh, Success(), now=6.0, wall=NOON_UTC)
    assert pool.keys[0].breaker.state.value == "closed"
    # Nor after the breaker closed again: no failure counted, no health sample.
    pool.report(mine[4], Transient("HTTP 503"), now=6.5, wall=NOON_UTC)
    assert pool.keys[0].breaker.failures == 0
    assert pool.keys[0].health.counts(6.5) == (1, 0)
    stale_success = Pick(pool.keys[0], MODEL, epoch=0)
    pool.report(stale_success, Success(), now=6.6, wall=NOON_UTC)
    assert pool.keys[0].health.counts(6.6) == (1, 0)


def test_an_auth_failure_on_a_trial_resets_the_breaker() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5)
    fail(pool, "a", Transient("HTTP 500"))
    trial = lend(pool, now=5.0)
    pool.report(trial, AuthFailure("API_KEY_INVALID"), now=5.0, wall=NOON_UTC)
    pool.release(trial, 5.0)
    key = pool.keys[0]
    assert key.disabled == "auth: API_KEY_INVALID"
    assert (key.breaker.state.value, key.breaker.trial_taken) == ("closed", False)


def test_an_auth_recheck_answered_with_429_re_enables_without_cooling() -> None:
    pool = make_pool("a", auth_recheck=60)
    fail(pool, "a", AuthFailure("API_KEY_INVALID"))
    [probe] = pool.claim_probes(60.0)
    pool.report(probe, RateLimited(30), now=60.0, wall=NOON_UTC)
    pool.release(probe, 60.0)
    assert pool.keys[0].disabled is None
    assert pick(pool, now=60.0) == "a"


def test_a_passed_probe_clears_the_health_that_opened_the_breaker() -> None:
    pool = make_pool("a", "b", breaker_threshold=5, breaker_backoff=5)
    for _ in range(5):
        fail(pool, "a", Transient("HTTP 500"))
    assert pool.keys[0].health.unhealthy(0.0)
    [probe] = pool.claim_probes(5.0)
    pool.report(probe, Success(), now=5.0, wall=NOON_UTC)
    pool.release(probe, 5.0)
    assert not pool.keys[0].health.unhealthy(5.0)
    assert {peek(pool, now=5.0) for _ in range(2)} == {"a", "b"}


def test_listing_models_cannot_decide_a_probation() -> None:
    pool = make_pool("a", breaker_threshold=1, breaker_backoff=5)
    fail(pool, "a", Transient("HTTP 500"))
    [probe] = pool.claim_probes(5.0)
    pool.report(probe, Success(), now=5.0, wall=NOON_UTC)
    pool.release(probe, 5.0)
    listing = lend(pool, now=6.0, model="")
    pool.report(listing, Success(), now=6.0, wall=NOON_UTC)
    pool.release(listing, 6.0)
    assert pool.keys[0].breaker.state.value == "probation"
    assert pick(pool, now=7.0) == "a"  # a generation succeeded
    assert pool.keys[0].breaker.state.value == "closed"


def test_an_old_thaw_call_cannot_end_a_newer_thaw() -> None:
    pool = make_pool("a", "b")
    fail(pool, "b", RateLimited(100))
    fail(pool, "a", RateLimited(1))
    old = lend(pool, now=1.0)  # thaw call A: slow, still out after its window
    assert old.thaw is not None
    fail(pool, "a", RateLimited(1), now=4.0)  # another call's 429: a new cooldown
    new = lend(pool, now=5.0)  # thaw call B
    assert new.thaw is not None
    pool.report(old, Success(), now=5.5, wall=NOON_UTC)  # A answers inside B's window
    assert refuse(pool, now=5.5).keys[0]["state"] == "thawing"  # B still holds
