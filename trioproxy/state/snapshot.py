"""The persisted state of the pool, as plain records: what the stores write and read.

Every time in here is UNIX wall time (seconds), never the trio clock: the trio clock of
one process means nothing to the next. `capture` and `restore` (trioproxy.state.capture)
convert at the boundary.

One `Snapshot` type serves three purposes:
- a whole state (what a store loads at startup, what `trioproxy state export` writes);
- a batch of changes (what the state writer hands a store): only the keys, scopes and
  usage rows it lists change, each replaced whole;
- the JSON document of export/import and of the JSON fallback store (`to_json`).

Nothing secret is in here: keys are identified by name and the secret's fingerprint (a
truncated SHA-256, trioproxy.secret), so a snapshot can be moved between machines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = "trioproxy-state"
FORMAT_VERSION = 1


class SnapshotError(ValueError):
    """A state document that cannot be read (wrong format, version or shape)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    name: str
    fingerprint: str
    disabled: str | None = None
    auth_recheck_at: float | None = None
    breaker: str = "closed"  # trioproxy.pool.breaker.State value
    failures: int = 0  # consecutive failures while closed
    opens: int = 0  # consecutive openings: the next backoff grows from it
    reopen_at: float | None = None  # open: when it turns half-open
    # The health window: (bucket start, successes, failures), oldest first.
    health: tuple[tuple[float, int, int], ...] = ()
    last_model: str | None = None
    # The admin's runtime overrides of keys.yaml (None: the file's value).
    weight: float | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class CooldownRecord:
    model: str
    dimension: str
    until: float
    quota_ids: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class BudgetRecord:
    model: str
    requests: tuple[float, ...] = ()  # the last minute's request times (rpm)
    tokens: tuple[tuple[float, int], ...] = ()  # the last minute's (time, tokens) (tpm)
    day: str = ""  # the Pacific day of day_count (rpd)
    day_count: int = 0


@dataclass(frozen=True, slots=True)
class ScopeRecord:
    """One quota scope: `project:<name>` for keys sharing a project, `key:<name>` for a
    key of its own."""

    cooldowns: tuple[CooldownRecord, ...] = ()
    budgets: tuple[BudgetRecord, ...] = ()

    def records(self) -> tuple[CooldownRecord | BudgetRecord, ...]:
        return (*self.cooldowns, *self.budgets)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One key's calls on one Pacific day (the day Gemini's daily quotas use)."""

    key: str
    day: str
    requests: int = 0
    failures: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(slots=True)
class Snapshot:
    saved_at: float = 0.0
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    scopes: dict[str, ScopeRecord] = field(default_factory=dict)
    usage: dict[tuple[str, str], UsageRecord] = field(default_factory=dict)

    def merge(self, batch: Snapshot) -> None:
        """Apply a batch of changes: its keys, scopes and usage rows replace ours."""
        self.saved_at = max(self.saved_at, batch.saved_at)
        self.keys.update(batch.keys)
        self.scopes.update(batch.scopes)
        self.usage.update(batch.usage)

    def is_empty(self) -> bool:
        return not (self.keys or self.scopes or self.usage)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "saved_at": self.saved_at,
            "keys": [asdict(record) for record in self.keys.values()],
            "scopes": {name: asdict(scope) for name, scope in self.scopes.items()},
            "usage": [asdict(record) for record in self.usage.values()],
        }

    @classmethod
    def from_json(cls, document: object) -> Snapshot:
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise SnapshotError(f"not a {FORMAT} document")
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise SnapshotError(
                f"{FORMAT} version {version!r} is not supported (this build reads "
                f"version {FORMAT_VERSION})"
            )
        try:
            keys = [_key(item) for item in document.get("keys", [])]
            scopes = {
                str(name): _scope(scope) for name, scope in document.get("scopes", {}).items()
            }
            usage = [UsageRecord(**item) for item in document.get("usage", [])]
            saved_at = float(document.get("saved_at", 0.0))
            for record in (*keys, *usage, *(r for s in scopes.values() for r in s.records())):
                _check(record)
        except (TypeError, ValueError, AttributeError) as error:
            raise SnapshotError(f"malformed {FORMAT} document: {error}") from None
        return cls(
            saved_at=saved_at,
            keys={record.name: record for record in keys},
            scopes=scopes,
            usage={(record.key, record.day): record for record in usage},
        )


def _key(item: dict[str, Any]) -> KeyRecord:
    fields = dict(item)
    fields["health"] = tuple(
        (float(start), int(ok), int(failed)) for start, ok, failed in fields.get("health", ())
    )
    return KeyRecord(**fields)


def _scope(item: dict[str, Any]) -> ScopeRecord:
    cooldowns = tuple(
        CooldownRecord(**{**cooldown, "quota_ids": tuple(cooldown.get("quota_ids", ()))})
        for cooldown in item.get("cooldowns", ())
    )
    budgets = tuple(
        BudgetRecord(
            **{
                **budget,
                "requests": tuple(float(at) for at in budget.get("requests", ())),
                "tokens": tuple((float(at), int(n)) for at, n in budget.get("tokens", ())),
            }
        )
        for budget in item.get("budgets", ())
    )
    return ScopeRecord(cooldowns, budgets)


BREAKER_STATES = ("closed", "open", "half_open", "probation")
MAX_INT = 2**63 - 1  # SQLite's INTEGER
# A weight as keys.yaml allows it, and small enough that summing many stays finite.
MIN_WEIGHT, MAX_WEIGHT = 0.001, 1e9
# What each record's scalar fields must hold ("?": or null). A state document may come
# from an import or a file on disk: a wrong type must be refused here, not found later
# as a crash on the request path or at every start.
_FIELDS: dict[type, dict[str, str]] = {
    KeyRecord: {
        "name": "str",
        "fingerprint": "str",
        "disabled": "str?",
        "auth_recheck_at": "num?",
        "breaker": "breaker",
        "failures": "int",
        "opens": "int",
        "reopen_at": "num?",
        "last_model": "str?",
        "weight": "weight?",
        "priority": "int?",
    },
    CooldownRecord: {"model": "str", "dimension": "str", "until": "num", "source": "str?"},
    BudgetRecord: {"model": "str", "day": "str", "day_count": "int"},
    UsageRecord: {
        "key": "str",
        "day": "str",
        "requests": "int",
        "failures": "int",
        "rate_limited": "int",
        "prompt_tokens": "int",
        "completion_tokens": "int",
    },
}


def _check(record: object) -> None:
    for name, kind in _FIELDS[type(record)].items():
        value = getattr(record, name)
        if value is None and kind.endswith("?"):
            continue
        if not _fits(value, kind.rstrip("?")):
            raise ValueError(
                f"{type(record).__name__}.{name} must be {kind.rstrip('?')}, "
                f"not {type(value).__name__}"
            )
    if isinstance(record, CooldownRecord) and not all(
        isinstance(quota_id, str) for quota_id in record.quota_ids
    ):
        raise ValueError("CooldownRecord.quota_ids must be strings")


def _fits(value: object, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "breaker":
        return value in BREAKER_STATES
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if kind == "int":
        return isinstance(value, int) and 0 <= value <= MAX_INT
    if kind == "weight":
        return MIN_WEIGHT <= value <= MAX_WEIGHT
    return math.isfinite(value)
