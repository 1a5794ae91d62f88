"""The supervisor: the long-lived services of the gateway, started in order, stopped in
reverse, restarted when they crash.

Every service has one shape, `async def run(self, *, task_status=trio.TASK_STATUS_IGNORED)`,
and calls `task_status.started()` once it is ready, so `start` returns only when every
service is up and a service can rely on the ones started before it.

Order (the app builds the list, trioproxy.app):
    state writer     first, so it stops last: it persists what every other service (and
                     every request) changed, and flushes once they are gone.
    usage writer     the projects' and tokens' usage totals (trioproxy.tenancy); requests
                     change them until they end, so it stops after them, and flushes.
    event writer     the usage event log; stops after the services that serve requests'
                     state, and writes every event queued.
    config watcher   a reload swaps the gateway the prober then follows.
    health prober    needs the pool and the upstream client; its probes change state.

Stopping is the reverse of starting and waits for each service to be gone before the
next one is told, so shutdown is deterministic: nothing still runs that depends on a
service already stopped.

Crashes: a service that fails *before* it is ready fails `start` (the app cannot run
without it: the process exits non-zero). After that, a `restart` service is logged,
counted in `crashes` and started again after a backoff (doubling, capped); requests are
not affected. A service with `restart=False` takes the app down with it instead. All
the services restart: each keeps its state outside its task (the pool's `touched`
set, the reloader, the pool), so a restarted one carries on where the crashed one was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import trio

from trioproxy import logs

Runner = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    run: Runner
    restart: bool = True


@dataclass(slots=True)
class _Running:
    service: Service
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    stopped: trio.Event = field(default_factory=trio.Event)


class Supervisor:
    def __init__(
        self, services: Sequence[Service], *, backoff: float = 1.0, max_backoff: float = 60.0
    ) -> None:
        self.services = list(services)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.crashes: Counter[str] = Counter()
        self._running: list[_Running] = []

    async def start(self, nursery: trio.Nursery) -> None:
        """Start every service, in order, each in `nursery`; return when all are ready."""
        for service in self.services:
            running: _Running = await nursery.start(self._supervise, service)
            self._running.append(running)
            logs.event("service started", service=service.name)

    async def stop(self) -> None:
        """Stop the services in reverse order, each gone before the next is told."""
        while self._running:
            running = self._running.pop()
            running.scope.cancel()
            await running.stopped.wait()
            logs.event("service stopped", service=running.service.name)

    async def _supervise(self, service: Service, *, task_status: trio.TaskStatus[_Running]) -> None:
        running = _Running(service)
        try:
            with running.scope:
                await self._keep_running(running, task_status)
        finally:
            running.stopped.set()

    async def _keep_running(
        self, running: _Running, task_status: trio.TaskStatus[_Running]
    ) -> None:
        service = running.service
        delay = self.backoff
        ready = False
        while True:
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(service.run)
                    if not ready:
                        ready = True
                        task_status.started(running)
                return  # the service ended on its own
            except Exception:
                if not ready or not service.restart:
                    raise
                self.crashes[service.name] += 1
                logs.EVENTS.error(
                    "service crashed; restarting",
                    exc_info=True,
                    extra={"fields": {"service": service.name, "in_seconds": delay}},
                )
            await trio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
