"""The supervisor: services start in order, stop in reverse (each gone before the next is
told), crashing ones restart with backoff; in virtual time."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from trioproxy.supervisor import Service, Supervisor


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    def note(self, what: str) -> None:
        self.events.append((trio.current_time(), what))

    def service(self, name: str, *, startup: float = 0.0, shutdown: float = 0.0) -> Service:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            await trio.sleep(startup)
            self.note(f"{name} ready")
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    await trio.sleep(shutdown)  # e.g. draining a channel
                self.note(f"{name} stopped")

        return Service(name, run)


async def test_services_start_in_order_and_stop_in_reverse(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    supervisor = Supervisor(
        [
            recorder.service("state writer", startup=1, shutdown=2),
            recorder.service("config watcher", startup=1, shutdown=1),
            recorder.service("prober"),
        ]
    )
    async with trio.open_nursery() as nursery:
        await supervisor.start(nursery)
        recorder.note("serving")
        await supervisor.stop()
        recorder.note("stopped")
    assert recorder.events == [
        (1.0, "state writer ready"),
        (2.0, "config watcher ready"),
        (2.0, "prober ready"),
        (2.0, "serving"),
        (2.0, "prober stopped"),
        (3.0, "config watcher stopped"),
        (5.0, "state writer stopped"),
        (5.0, "stopped"),
    ]


async def test_a_crashing_service_is_restarted_with_backoff_and_counted(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    starts: list[float] = []

    async def flaky(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        starts.append(trio.current_time())
        task_status.started()
        if len(starts) <= 4:
            await trio.sleep(0.5)
            raise RuntimeError("boom")
        await trio.sleep_forever()

    supervisor = Supervisor([Service("flaky", flaky)], backoff=1, max_backoff=3)
    async with trio.open_nursery() as nursery:
        await supervisor.start(nursery)
        await trio.sleep(100)
        await supervisor.stop()
    # Each crash at +0.5 s, then a wait of 1, 2, 3, 3 s (doubling, capped).
    assert starts == [0.0, 1.5, 4.0, 7.5, 11.0]
    assert supervisor.crashes["flaky"] == 4
    crashes = [r for r in caplog.records if r.getMessage() == "service crashed; restarting"]
    assert len(crashes) == 4
    assert crashes[0].levelno == logging.ERROR


async def test_a_service_that_cannot_start_fails_the_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()

    async def broken(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise OSError("cannot open the database")

    supervisor = Supervisor([recorder.service("first"), Service("broken", broken)])
    with pytest.RaisesGroup(OSError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await supervisor.start(nursery)
    # The service started before it was stopped again, not left running.
    assert [what for _, what in recorder.events] == ["first ready", "first stopped"]
    assert supervisor.crashes["broken"] == 0


async def test_a_service_without_restart_takes_the_app_down(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fatal(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(1)
        raise RuntimeError("lost the disk")

    supervisor = Supervisor([Service("fatal", fatal, restart=False)])
    with pytest.RaisesGroup(RuntimeError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await supervisor.start(nursery)
            await trio.sleep_forever()
    assert trio.current_time() == 1.0
