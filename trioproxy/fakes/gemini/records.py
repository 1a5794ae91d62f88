"""What the upstream saw: one record per request, and event-driven waiting on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import trio


@dataclass
class RequestRecord:
    seq: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    started_at: float
    api_version: str | None = None
    model: str | None = None
    rpc: str | None = None
    key: str | None = None
    key_source: str | None = None  # "header" (x-goog-api-key) or "query" (?key=)
    authorization: str | None = None
    body: Any = None
    sse: bool = False
    status: int | None = None
    fault: str | None = None
    error: dict[str, Any] | None = None
    response: Any = None
    chunks: list[dict[str, Any]] = field(default_factory=list)
    completed: bool = False
    cancelled: bool = False
    disconnected: bool = False
    dropped: bool = False
    finished_at: float | None = None
    cancelled_at: float | None = None

    @property
    def has_authorization(self) -> bool:
        return self.authorization is not None

    @property
    def streaming(self) -> bool:
        return self.rpc == "streamGenerateContent"

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def matches(self, **filters: Any) -> bool:
        return all(getattr(self, name) == value for name, value in filters.items())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "has_authorization": self.has_authorization}


Predicate = Callable[[RequestRecord], bool]


class Recorder:
    def __init__(self, limit: int | None = None) -> None:
        # Benchmarks send many requests; a limit keeps only the most recent records.
        self.limit = limit
        self.records: list[RequestRecord] = []
        self._waiters: list[tuple[Predicate, trio.Event, list[RequestRecord]]] = []

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)
        if self.limit is not None and len(self.records) > self.limit:
            del self.records[: len(self.records) - self.limit]
        self.changed(record)

    def changed(self, record: RequestRecord) -> None:
        """Call after mutating a record, so waiters see the new state."""
        for predicate, event, found in self._waiters:
            if not event.is_set() and predicate(record):
                found.append(record)
                event.set()

    def clear(self) -> None:
        self.records.clear()

    def select(self, predicate: Predicate | None = None, **filters: Any) -> list[RequestRecord]:
        return [
            r for r in self.records if r.matches(**filters) and (predicate is None or predicate(r))
        ]

    async def wait_for(self, predicate: Predicate | None = None, **filters: Any) -> RequestRecord:
        def check(r: RequestRecord) -> bool:
            return r.matches(**filters) and (predicate is None or predicate(r))

        existing = [r for r in self.records if check(r)]
        if existing:
            return existing[0]
        event = trio.Event()
        found: list[RequestRecord] = []
        waiter = (check, event, found)
        self._waiters.append(waiter)
        try:
            await event.wait()
        finally:
            self._waiters.remove(waiter)
        return found[0]
