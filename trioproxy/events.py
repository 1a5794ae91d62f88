"""The usage event log: one JSON line per proxied request, for billing and audit.

The request path calls `emit`, which puts the event on a bounded memory channel without
waiting: if the writer has fallen behind and the channel is full, the event is dropped
and counted (`dropped`, a metric), and the request is never slowed. The **event writer**,
a supervisor service, takes events off the channel in batches and appends them to a
JSONL file from a worker thread, rotating it by size (`usage.jsonl` -> `usage.jsonl.1`
... keeping `backups` old files). On shutdown it is stopped after the requests have
ended, and writes everything still queued before it returns.

An event holds no secret: the client by name (and, with client tokens, the token's id,
never the token), the key by name.
"""

from __future__ import annotations

import json
import logging
import math
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

import trio

from trioproxy import logs

CAPACITY = 10_000
BATCH = 500
WRITE_TIMEOUT = 30.0


class EventLog:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        backups: int = 5,
        capacity: int = CAPACITY,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._send, self._receive = trio.open_memory_channel[dict[str, Any]](capacity)
        self.dropped = 0
        self.written = 0
        self.write_failures = 0
        self._directory_made = False

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event; never waits. A full queue drops it (counted)."""
        try:
            self._send.send_nowait(event)
        except (trio.WouldBlock, trio.ClosedResourceError):
            self.dropped += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The event writer service."""
        task_status.started()
        try:
            while True:
                first = await self._receive.receive()
                # Shielded: events taken off the channel are written even if shutdown
                # comes now (only the wait for the next event is cancellable).
                with trio.CancelScope(shield=True):
                    await self._write([first, *self._drain(BATCH - 1)])
        except trio.Cancelled:
            # Shutdown (not a crash, after which the supervisor restarts us): an event
            # emitted from now on is counted as dropped, not left unwritten in the queue.
            self._send.close()
            raise
        finally:
            with trio.CancelScope(shield=True):
                rest = self._drain(math.inf)
                if rest:
                    await self._write(rest)

    def _drain(self, limit: float) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < limit:
            try:
                batch.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):  # empty; or empty and closed
                break
        return batch

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        # A disk that hangs must not hang shutdown: past WRITE_TIMEOUT the worker thread
        # is abandoned (it may still finish) and the batch is counted as failed.
        with trio.move_on_after(WRITE_TIMEOUT) as scope:
            try:
                await trio.to_thread.run_sync(self._append, batch, abandon_on_cancel=True)
            except OSError as error:
                self._failed(batch, str(error))
                return
        if scope.cancelled_caught:
            self._failed(batch, f"no write finished within {WRITE_TIMEOUT:g} s")
            return
        self.written += len(batch)

    def _failed(self, batch: list[dict[str, Any]], error: str) -> None:
        self.write_failures += len(batch)
        logs.event("usage event log: write failed", logging.ERROR, error=error,
                   events=len(batch))  # fmt: skip

    def _append(self, batch: list[dict[str, Any]]) -> None:
        # Encoded here, in the worker thread: a full batch takes milliseconds to encode,
        # which the event loop should not spend. Nothing changes an event once emitted.
        lines = [
            (json.dumps(event, separators=(",", ":"), default=str) + "\n").encode()
            for event in batch
        ]
        if not self._directory_made:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._directory_made = True
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        # Cut where the file would pass its limit: rotate, and go on in the new file.
        chunk: list[bytes] = []
        for line in lines:
            if size and size + len(line) > self.max_bytes:
                self._write_file(b"".join(chunk), size - sum(map(len, chunk)))
                self._rotate()
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        self._write_file(b"".join(chunk), size - sum(map(len, chunk)))

    def _write_file(self, data: bytes, start: int) -> None:
        if not data:
            return
        with self.path.open("ab") as out:
            try:
                out.write(data)
                out.flush()
            except OSError:
                # A batch half on disk would leave a broken line for the next one to
                # follow: cut the file back to where the batch began.
                with suppress(OSError):
                    out.truncate(start)
                raise

    def _rotate(self) -> None:
        # usage.jsonl.(n-1) -> .n, ..., usage.jsonl -> .1; what was .n (the oldest) is
        # replaced, so at most `backups` old files stay. With no backups: start afresh.
        if self.backups == 0:
            self.path.unlink()
            return
        for index in range(self.backups, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            newer = self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
            if newer.exists():
                os.replace(newer, older)
