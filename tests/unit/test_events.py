"""The usage event log: nothing lost while the writer keeps up, everything written at
shutdown, rotation by size, and a stalled writer costing dropped events (counted), never
a blocked request."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import trio

from trioproxy.events import EventLog


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_every_event_is_written_by_shutdown(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "usage.jsonl")
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        for index in range(1200):
            log.emit({"n": index})
        nursery.cancel_scope.cancel()  # shutdown: the writer drains what is queued
    assert [event["n"] for event in lines(tmp_path / "usage.jsonl")] == list(range(1200))
    assert (log.written, log.dropped) == (1200, 0)


async def test_the_file_rotates_by_size_keeping_the_backups(tmp_path: Path) -> None:
    path = tmp_path / "usage.jsonl"
    log = EventLog(path, max_bytes=2_000, backups=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        for index in range(300):
            log.emit({"n": index, "pad": "x" * 40})
            if index % 20 == 19:
                await trio.sleep(0.01)  # let the writer take batches
        nursery.cancel_scope.cancel()
    files = sorted(tmp_path.iterdir())  # noqa: ASYNC240 (the writer is done)
    assert [f.name for f in files] == ["usage.jsonl", "usage.jsonl.1", "usage.jsonl.2"]
    assert all(f.stat().st_size <= 2_000 for f in files)
    kept = [event["n"] for f in reversed(files) for event in lines(f)]
    assert kept == sorted(kept)  # oldest first across the files, none out of order
    assert kept[-1] == 299


async def test_a_stalled_writer_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "usage.jsonl", capacity=100)
    unblock = threading.Event()
    append = log._append

    def stalled(data: bytes) -> None:
        unblock.wait(10)  # the disk hangs
        append(data)

    log._append = stalled  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        log.emit({"n": -1})
        await trio.sleep(0.05)  # the writer has taken it and is stuck writing
        for index in range(1000):
            log.emit({"n": index})  # returns at once, full or not
        assert log.dropped == 900
        unblock.set()
        nursery.cancel_scope.cancel()
    assert log.written == 101
    assert len(lines(tmp_path / "usage.jsonl")) == 101
