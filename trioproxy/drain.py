"""Draining: how in-flight upstream work ends when the gateway shuts down.

On SIGTERM (trioproxy.serve_command) hypercorn stops accepting connections and the drain starts:
requests already in flight keep going, streams included, for the grace period. When it
is over, the drain *cuts* them: every upstream wait in progress is cancelled through its
own cancel scope, so each request ends on its own terms: a unary request answers 503
`gateway_shutting_down`, a stream sends that error as its last event and `[DONE]`. No
client is left with a connection that just drops.

Every upstream wait (an attempt, a stream's next chunk) runs inside `guard(deadline)`: a
cancel scope whose deadline is the request's, or the cut-off if that is sooner. The
drain keeps the scopes that are open, so a cut reaches waits that began before the
shutdown did.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import trio


class Drain:
    def __init__(self) -> None:
        self.cutoff = math.inf  # trio time at which in-flight upstream work is cut
        self.draining = False
        self._open: set[trio.CancelScope] = set()

    def begin(self, grace: float) -> None:
        """Shutdown has started: cut whatever is still in flight `grace` s from now (a
        second call, e.g. a second signal, can only bring the cut-off closer)."""
        self.draining = True
        self.cutoff = min(self.cutoff, trio.current_time() + grace)
        for scope in self._open:
            scope.deadline = min(scope.deadline, self.cutoff)

    @contextmanager
    def guard(self, deadline: float) -> Iterator[trio.CancelScope]:
        scope = trio.CancelScope(deadline=min(deadline, self.cutoff))
        self._open.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._open.discard(scope)

    def cut(self, scope: trio.CancelScope) -> bool:
        """Did this guard end because of the shutdown (not the request's deadline)?"""
        return scope.cancelled_caught and scope.deadline >= self.cutoff

    @property
    def in_flight(self) -> int:
        return len(self._open)
