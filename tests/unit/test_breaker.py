"""The breaker's transition table, backoff growth, cap and jitter; quota dimensions; the
Pacific reset (explicit times: no clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trioproxy.pool.breaker import TRANSITIONS, Breaker, BreakerPolicy, Event, State
from trioproxy.pool.quota import dimension_of
from trioproxy.pool.reset import seconds_until_daily_reset

POLICY = BreakerPolicy(threshold=3, backoff=5.0, max_backoff=300.0)


def breaker(random: float = 0.0) -> Breaker:
    return Breaker(POLICY, lambda: random)


def opened(now: float = 0.0) -> Breaker:
    b = breaker()
    for _ in range(3):
        b.fire(Event.FAILURE, now)
    return b


def test_the_table_lists_exactly_the_legal_transitions() -> None:
    assert set(TRANSITIONS) == {
        (State.CLOSED, Event.SUCCESS),
        (State.CLOSED, Event.FAILURE),
        (State.CLOSED, Event.RESPONDED),
        (State.OPEN, Event.BACKOFF_ELAPSED),
        (State.HALF_OPEN, Event.TRIAL_START),
        (State.HALF_OPEN, Event.TRIAL_ABANDONED),
        (State.HALF_OPEN, Event.SUCCESS),
        (State.HALF_OPEN, Event.PROBE_OK),
        (State.HALF_OPEN, Event.RESPONDED),
        (State.HALF_OPEN, Event.FAILURE),
        (State.PROBATION, Event.SUCCESS),
        (State.PROBATION, Event.FAILURE),
    }


def test_closed_opens_on_the_nth_consecutive_failure() -> None:
    b = breaker()
    assert [b.fire(Event.FAILURE, 0.0) for _ in range(3)] == [
        State.CLOSED,
        State.CLOSED,
        State.OPEN,
    ]
    assert b.reopen_at == 5.0


def test_responses_neither_count_nor_reset_failures() -> None:
    b = breaker()
    b.fire(Event.FAILURE, 0.0)
    b.fire(Event.FAILURE, 0.0)
    b.fire(Event.RESPONDED, 0.0)  # a 429 in between
    assert b.fire(Event.FAILURE, 0.0) is State.OPEN


def test_open_turns_half_open_exactly_when_the_backoff_ends() -> None:
    b = opened(now=10.0)
    assert b.current(14.999) is State.OPEN
    assert not b.admits(14.999)
    assert b.current(15.0) is State.HALF_OPEN
    assert b.admits(15.0)


def test_half_open_trial_outcomes() -> None:
    for event, expected in (
        (Event.SUCCESS, State.CLOSED),
        (Event.RESPONDED, State.PROBATION),  # answered, but did not serve the model
        (Event.PROBE_OK, State.PROBATION),
        (Event.FAILURE, State.OPEN),
    ):
        b = opened()
        b.current(5.0)
        b.fire(Event.TRIAL_START, 5.0)
        assert not b.admits(5.0)
        assert b.fire(event, 6.0) is expected


def test_backoff_doubles_per_failed_trial_up_to_the_cap() -> None:
    b = opened()
    periods = [b.reopen_at]
    now = b.reopen_at
    for _ in range(8):
        b.current(now)
        b.fire(Event.TRIAL_START, now)
        b.fire(Event.FAILURE, now)
        periods.append(b.reopen_at - now)
        now = b.reopen_at
    assert periods == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    b.current(now)
    b.fire(Event.SUCCESS, now)
    assert (b.state, b.opens) == (State.CLOSED, 0)  # the next opening starts small again


def test_a_passed_probe_leads_to_probation_where_the_first_failure_reopens() -> None:
    b = opened()
    b.current(5.0)
    b.fire(Event.TRIAL_START, 5.0)
    assert b.fire(Event.PROBE_OK, 5.0) is State.PROBATION
    assert b.admits(5.0)
    assert not b.on_trial  # calls run concurrently: no request waits on a trial
    # A 429 or a rejected request proves nothing about the model.
    assert b.fire(Event.RESPONDED, 5.5, trial=False) is State.PROBATION
    # The model still fails: open again at once (not after `threshold`), for longer.
    assert b.fire(Event.FAILURE, 6.0, trial=False) is State.OPEN
    assert b.reopen_at - 6.0 == 10.0
    b.current(16.0)
    b.fire(Event.TRIAL_START, 16.0)
    b.fire(Event.PROBE_OK, 16.0)
    assert b.fire(Event.SUCCESS, 17.0, trial=False) is State.CLOSED  # a real generation
    for _ in range(3):
        b.fire(Event.FAILURE, 18.0)
    assert b.reopen_at - 18.0 == 5.0  # the backoff memory is gone


def test_every_opening_starts_a_new_epoch() -> None:
    b = breaker()
    assert b.epoch == 0
    for _ in range(3):
        b.fire(Event.FAILURE, 0.0)
    assert b.epoch == 1
    b.retire()
    assert (b.state, b.epoch) == (State.CLOSED, 2)


@pytest.mark.parametrize(("draw", "period"), [(0.0, 5.0), (0.5, 4.5), (0.999, 4.001)])
def test_jitter_only_shortens_the_backoff_by_up_to_a_fifth(draw: float, period: float) -> None:
    b = breaker(draw)
    for _ in range(3):
        b.fire(Event.FAILURE, 0.0)
    assert b.reopen_at == pytest.approx(period)


def test_stale_results_do_not_decide_for_the_trial() -> None:
    b = opened()
    b.current(5.0)
    b.fire(Event.TRIAL_START, 5.0)
    # A call lent before the breaker opened finishes now: it is not the trial.
    assert b.fire(Event.SUCCESS, 5.1, trial=False) is State.HALF_OPEN
    assert b.fire(Event.FAILURE, 5.1, trial=False) is State.HALF_OPEN
    assert b.fire(Event.FAILURE, 5.2) is State.OPEN


def test_events_outside_the_table_change_nothing() -> None:
    b = breaker()
    assert b.fire(Event.TRIAL_START, 0.0) is State.CLOSED
    assert b.fire(Event.BACKOFF_ELAPSED, 0.0) is State.CLOSED
    o = opened()
    assert o.fire(Event.TRIAL_ABANDONED, 1.0) is State.OPEN


@pytest.mark.parametrize(
    ("quota_id", "dimension"),
    [
        ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "requests_per_minute"),
        ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "requests_per_day"),
        ("GenerateContentInputTokensPerModelPerMinute-FreeTier", "tokens_per_minute"),
        ("GenerateContentPaidTierInputTokensPerModelPerMinute", "tokens_per_minute"),
        ("GenerateContentInputTokensPerModelPerDay-FreeTier", "tokens_per_day"),
        ("GenerateContentRequestsPerMinutePerProjectPerRegion", "requests_per_minute"),
        ("SomethingNew", "unspecified"),
    ],
)
def test_quota_ids_map_to_dimensions(quota_id: str, dimension: str) -> None:
    assert dimension_of(quota_id) == dimension


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "hours"),
    [
        (_utc(2026, 6, 1, 12, 0), 19),  # 05:00 PDT
        (_utc(2026, 1, 15, 12, 0), 20),  # 04:00 PST
        # 2026-03-08 is 23 hours long in Los Angeles: from 01:00 PST, midnight is 22 h away.
        (_utc(2026, 3, 8, 9, 0), 22),
        # 2026-11-01 is 25 hours long: from 00:30 PDT, midnight is 24.5 h away.
        (_utc(2026, 11, 1, 7, 30), 24.5),
        (_utc(2026, 11, 25, 7, 59, 59), 1 / 3600),  # one second before midnight PST
    ],
)
def test_daily_reset_is_the_next_pacific_midnight_dst_included(now: float, hours: float) -> None:
    assert seconds_until_daily_reset(now) == pytest.approx(hours * 3600)
