"""The config watcher: reloads keys.yaml when it changes (SIGHUP is handled by
`trioproxy serve` for the whole life of the process: trioproxy.serve_command).

It watches the file's *directory*, not the file: editors (vim, many IDEs) and deploy
tools (Kubernetes ConfigMaps, `mv new keys.yaml`) replace the file by renaming another
one over it, and a watch on the old file would go quiet after the first such save. Events
for other files of the directory are ignored, except Kubernetes' `..data` symlink swaps;
the reloader compares the file's bytes, so an event that did not change it costs one read.

watchfiles runs its inotify loop in a worker thread that trio cannot interrupt; it checks
its stop event every `step` ms, so stopping this service sets the event and waits at
most that long. With a 100 ms debounce a save is applied well inside a second.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from pathlib import Path

import anyio
import trio
from watchfiles import Change, awatch

from trioproxy import logs
from trioproxy.reload import Reloader

DEBOUNCE_MS = 100
STEP_MS = 50


class ConfigWatcher:
    def __init__(self, reloader: Reloader, path: Path) -> None:
        self.reloader = reloader
        self.path = path.absolute()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        stop = anyio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch, stop)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                # Lets the watch thread return (see the module docstring).
                stop.set()

    def _relevant(self, change: Change, path: str) -> bool:
        name = Path(path).name
        return name == self.path.name or name.startswith("..")

    async def _watch(self, stop: anyio.Event) -> None:
        polling = False
        while not stop.is_set():
            watch = awatch(
                self.path.parent,
                watch_filter=self._relevant,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=stop,
                recursive=False,
                force_polling=polling,
                poll_delay_ms=300,
            )
            try:
                # Closed here, in this task, not left to the garbage collector.
                async with aclosing(watch) as changes:
                    async for _ in changes:
                        await self.reloader.reload(trigger="file")
            except OSError as error:
                if polling:
                    raise
                # inotify can be unavailable or out of watches (containers): polling
                # still meets the one-second promise.
                logs.event(
                    "config watcher: file events unavailable, polling instead",
                    logging.WARNING,
                    error=str(error),
                )
                polling = True
