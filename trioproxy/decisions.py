"""Decision records: for the most recent requests, which keys were considered, why each
skipped one was skipped, and what each attempt got. Kept in memory, bounded; the admin
API shows them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from trioproxy.pool import AuthFailure, ClientFault, Outcome, RateLimited, Success, Transient

# Skip reasons kept per request; a pool of thousands of cooling keys must not make one
# record huge (the count is still exact).
MAX_SKIPS = 32


@dataclass(slots=True)
class RequestInfo:
    """What a decision record notes about the HTTP request it belongs to; the dispatcher
    hangs the record on it, for the access log and the metrics."""

    request_id: str = ""
    route: str = ""
    decision: Decision | None = None


@dataclass(slots=True)
class AttemptRecord:
    key: str
    started: float  # trio clock
    trial: bool = False
    ended: float | None = None
    outcome: str = "pending"
    detail: str | None = None


@dataclass(slots=True)
class Decision:
    request_id: str
    route: str
    model: str
    at: float  # UNIX time
    attempts: list[AttemptRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_total: int = 0
    waited: float = 0.0
    result: str = "pending"
    _seen: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def skip(self, key: str, reason: str) -> None:
        # Each (key, reason) once, however many times the request looked (waits, retries).
        if (key, reason) in self._seen:
            return
        self._seen.add((key, reason))
        self.skipped_total += 1
        if len(self.skipped) < MAX_SKIPS:
            self.skipped.append((key, reason))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["_seen"]
        data["skipped"] = [{"key": key, "reason": reason} for key, reason in self.skipped]
        return data


def outcome_name(outcome: Outcome) -> tuple[str, str | None]:
    """(outcome, detail) as shown in a record."""
    if isinstance(outcome, Success):
        return "ok", None
    if isinstance(outcome, RateLimited):
        return "rate_limited", ",".join(outcome.quota_ids) or None
    if isinstance(outcome, Transient):
        return "failed", outcome.reason
    if isinstance(outcome, AuthFailure):
        return "auth_failed", outcome.reason
    if isinstance(outcome, ClientFault):
        return "rejected", outcome.reason
    raise AssertionError(outcome)


class DecisionLog:
    def __init__(self, size: int = 256) -> None:
        self._records: deque[Decision] = deque(maxlen=size)

    def add(self, decision: Decision) -> None:
        self._records.append(decision)

    def recent(self, limit: int | None = None) -> list[Decision]:
        records = list(self._records)
        return records[-limit:] if limit else records
