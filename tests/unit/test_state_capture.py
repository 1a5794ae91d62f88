"""Capturing the pool's state into records and restoring it into a new pool (a restart),
with explicit times: the new process's trio clock starts elsewhere, wall time moves on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.unit.test_pool import DAY_IDS, MINUTE_IDS, NOON_UTC, lend, make_pool, pick, spec
from trioproxy.config.model import KeySpec, LimitSpec
from trioproxy.pool import AuthFailure, KeyPool, RateLimited, Transient
from trioproxy.pool.breaker import State
from trioproxy.pool.reset import PACIFIC
from trioproxy.pool.usage import KeyUsage
from trioproxy.secret import Secret
from trioproxy.state.capture import capture, restore, saved_overrides
from trioproxy.state.snapshot import KeyRecord, Snapshot, SnapshotError
from trioproxy.state.store import StateStore
from trioproxy.state.writer import StateWriter


def fail(pool: KeyPool, outcome: object, now: float) -> str:
    chosen = lend(pool, now)
    pool.report(chosen, outcome, now=now, wall=NOON_UTC + now)  # type: ignore[arg-type]
    pool.release(chosen, now)
    return chosen.key.name


def round_trip(pool: KeyPool, now: float, later: float, new_now: float = 7.0) -> KeyPool:
    """Capture at `now`, go through JSON, restore into a fresh pool `later` seconds of
    wall time afterwards, on a trio clock reading `new_now`."""
    saved = Snapshot.from_json(capture(pool.keys, now, NOON_UTC + now).to_json())
    fresh = make_pool(*[key.spec for key in pool.keys], breaker_threshold=1)
    restore(fresh, saved, new_now, NOON_UTC + now + later)
    return fresh


def test_a_cooling_key_stays_cooling_for_the_rest_of_its_cooldown_only() -> None:
    pool = make_pool("a", "b", breaker_threshold=1)
    assert fail(pool, RateLimited(600.0, quota_ids=MINUTE_IDS), now=100.0) == "a"
    fresh = round_trip(pool, now=100.0, later=60.0)  # 540 s of the cooldown left
    assert {pick(fresh, now=7.0) for _ in range(3)} == {"b"}
    assert {pick(fresh, now=7.0 + 539.0) for _ in range(3)} == {"b"}
    assert {pick(fresh, now=7.0 + 541.0) for _ in range(4)} == {"a", "b"}


def test_a_key_out_of_daily_quota_stays_out_until_the_pacific_reset() -> None:
    pool = make_pool("a", "b")
    assert fail(pool, RateLimited(30.0, per_day=True, quota_ids=DAY_IDS), now=0.0) == "a"
    fresh = round_trip(pool, now=0.0, later=3600.0)
    # 19 h from noon UTC to the Pacific midnight; one hour has passed.
    assert {pick(fresh, now=7.0 + 17 * 3600) for _ in range(3)} == {"b"}
    assert {pick(fresh, now=7.0 + 18 * 3600 + 1) for _ in range(4)} == {"a", "b"}


def test_breaker_health_disabled_and_usage_come_back() -> None:
    pool = make_pool("a", "b", "c", breaker_threshold=1, breaker_backoff=100.0)
    assert fail(pool, Transient("503"), now=0.0) == "a"  # a opens until 100
    assert fail(pool, AuthFailure("API_KEY_INVALID"), now=0.0) == "b"
    pool.record_tokens(lend(pool, 0.0), 30, 12, now=0.0, wall=NOON_UTC)
    fresh = round_trip(pool, now=0.0, later=40.0)
    a, b, c = (fresh.by_name[name] for name in "abc")
    assert a.breaker.state is State.OPEN
    assert a.breaker.reopen_at == pytest.approx(7.0 + 60.0)
    assert a.breaker.opens == 1
    assert a.health.counts(7.0) == (0, 1)
    assert a.last_model == pool.by_name["a"].last_model
    assert str(b.disabled).startswith("auth")
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (30, 12)
    assert (a.usage.requests, a.usage.failures) == (1, 1)


def test_a_key_whose_secret_changed_starts_fresh() -> None:
    pool = make_pool("a", "b")
    fail(pool, RateLimited(600.0, quota_ids=MINUTE_IDS), now=0.0)
    saved = capture(pool.keys, 0.0, NOON_UTC)
    rotated = make_pool(KeySpec("a", Secret("new-secret"), "gemini"), spec("b"))
    report = restore(rotated, saved, 0.0, NOON_UTC)
    assert report.rotated == ("a",)
    assert report.keys == 1
    assert {pick(rotated, now=1.0) for _ in range(4)} == {"a", "b"}


def test_budgets_windows_survive() -> None:
    limits = (LimitSpec("*", rpm=2),)
    pool = make_pool(spec("a", limits=limits))
    pick(pool, now=0.0)
    pick(pool, now=10.0)
    saved = Snapshot.from_json(capture(pool.keys, 20.0, NOON_UTC + 20.0).to_json())
    fresh = make_pool(spec("a", limits=limits))
    restore(fresh, saved, 5.0, NOON_UTC + 25.0)  # 5 s later; the clock reads 5
    assert fresh.choose("gemini-2.5-flash", 5.0, NOON_UTC + 25.0).__class__.__name__ == (
        "Unavailable"
    )
    assert pick(fresh, now=5.0 + 36.0) == "a"  # the first request left the minute


async def test_the_writer_persists_only_what_changed_and_flushes_on_stop(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    pool = make_pool("a", "b")
    store = StateStore(tmp_path)
    store.open()
    send, written = trio.open_memory_channel[tuple[float, list[str]]](10)
    write = store.write

    def recording(batch: Snapshot) -> None:
        # In the writer's worker thread: report (virtual time, keys) to the test.
        write(batch)
        trio.from_thread.run_sync(lambda: send.send_nowait((trio.current_time(), [*batch.keys])))

    store.write = recording  # type: ignore[method-assign]
    writer = StateWriter(store, lambda: pool, wall=lambda: NOON_UTC + trio.current_time())
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await trio.sleep(5.5)
        fail(pool, RateLimited(600.0, quota_ids=MINUTE_IDS), now=trio.current_time())
        at, keys = await written.receive()
        # Nothing was written while nothing changed; the change was written at the next
        # tick, within the interval.
        assert keys == ["a"]
        assert writer.batches == 1
        assert 5.5 < at <= 6.5
        fail(pool, Transient("503"), now=trio.current_time())  # b: left for the final flush
        nursery.cancel_scope.cancel()
    assert (await written.receive())[1] == ["b"]
    store.close()
    reopened = StateStore(tmp_path)
    saved = reopened.open()
    reopened.close()
    assert set(saved.keys) == {"a", "b"}
    assert saved.scopes["key:a"].cooldowns[0].dimension == "requests_per_minute"


@pytest.mark.parametrize(
    ("local", "hours"),
    [("2026-06-01", 24), ("2026-03-08", 23), ("2026-11-01", 25)],  # DST on, spring, fall
)
def test_usage_days_follow_the_pacific_calendar(local: str, hours: int) -> None:
    year, month, day = map(int, local.split("-"))
    midnight = datetime(year, month, day, tzinfo=PACIFIC).timestamp()
    usage = KeyUsage()
    usage.today(midnight + 1).requests += 1
    assert usage.day == local
    assert usage.today(midnight + hours * 3600 - 1).requests == 1  # same day, last second
    assert usage.today(midnight + hours * 3600).requests == 0  # the next day
    assert usage.day != local


async def test_the_writer_saves_the_key_of_the_current_config_not_its_old_secret() -> None:
    old = make_pool("a", "b")
    new = KeyPool(
        [KeySpec("a", Secret("rotated"), "gemini"), spec("b")],
        random=lambda: 0.0,
        previous=old,
    )
    written: list[Snapshot] = []

    class Store:
        def write(self, batch: Snapshot) -> None:
            written.append(batch)

    # The old credential finishes a call after the new one served one: both are marked.
    pick(new)
    old_a = old.by_name["a"]
    old.touched.add(old_a)
    writer = StateWriter(Store(), lambda: new, wall=lambda: NOON_UTC)  # type: ignore[arg-type]
    await writer.flush()
    (batch,) = written
    assert batch.keys["a"].fingerprint == Secret("rotated").fingerprint
    assert not new.touched


@pytest.mark.parametrize(
    ("field", "value"),
    [("failures", "2x"), ("reopen_at", "soon"), ("breaker", "ajar"), ("disabled", 7),
     ("opens", -1), ("auth_recheck_at", float("inf")), ("name", None)],
)  # fmt: skip
def test_a_state_document_with_wrong_types_is_refused_when_read(field: str, value: object) -> None:
    pool = make_pool("a")
    fail(pool, Transient("503"), now=0.0)
    document = capture(pool.keys, 0.0, NOON_UTC).to_json()
    assert Snapshot.from_json(document).keys["a"].failures == 1  # the untouched one reads
    document["keys"][0][field] = value
    with pytest.raises(SnapshotError, match="malformed"):
        Snapshot.from_json(document)


def test_overrides_come_back_only_to_the_secret_they_were_set_on() -> None:
    saved = Snapshot(
        keys={
            "a": KeyRecord("a", "fp-a", weight=3.0),
            "b": KeyRecord("b", "fp-old", priority=2),
            "c": KeyRecord("c", "fp-c"),
        }
    )
    found = saved_overrides(saved, {"a": "fp-a", "b": "fp-new", "c": "fp-c"})
    assert set(found) == {"a"}
    assert found["a"].weight == 3.0
