"""The state writer: a supervisor service that persists what the pool changed.

The request path never writes and never waits for the store. When it changes a key's
state (a report, a lend against a budget, a release that frees a trial) it adds the key
to the pool's `touched` set: O(1), and bounded by the number of keys, so unlike a queue
of change events it can neither fill up (which would mean blocking a request or dropping
a change) nor grow under load; a key changed a thousand times in a second is written
once. Every `interval` the writer takes the set, captures those keys (and their quota
scopes and usage) on the event loop, where the state is consistent, and hands the batch
to the store in a worker thread. The store on disk is therefore at most about one
interval behind.

On shutdown it is stopped after the services that change state (it starts first, so it
stops last) and writes what is left before it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import trio

from trioproxy.pool import KeyPool
from trioproxy.state.capture import capture
from trioproxy.state.store import StateStore

FLUSH_INTERVAL = 1.0


class StateWriter:
    def __init__(
        self,
        store: StateStore,
        pool: Callable[[], KeyPool],
        *,
        interval: float = FLUSH_INTERVAL,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.pool = pool
        self.interval = interval
        self.wall = wall
        self.batches = 0
        # One write at a time: the store is not safe for concurrent use.
        self._lock = trio.Lock()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await trio.sleep(self.interval)
                await self.flush()
        finally:
            with trio.CancelScope(shield=True):
                await self.flush()

    async def flush(self) -> None:
        """Write every key changed since the last flush (nothing if none was)."""
        async with self._lock:
            pool = self.pool()
            touched = pool.touched
            if not touched:
                return
            # Only the keys of the current config: a removed key, or the old state of a
            # key whose secret changed (both may still finish calls), is not saved over
            # the key that now carries its name.
            current = [key for key in touched if pool.by_name.get(key.name) is key]
            batch = capture(current, trio.current_time(), self.wall())
            # Cleared only once captured (no await in between, so nothing is missed).
            touched.clear()
            self.batches += 1
            # The store counts and logs its own failures and never raises for I/O.
            # Shielded: the marks are cleared, so a batch cancelled before it reached the
            # store would be lost; shutdown waits for it instead.
            # (No timeout: the store serialises its operations, so an abandoned write
            # would only move the wait to the store's close.)
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.store.write, batch)
