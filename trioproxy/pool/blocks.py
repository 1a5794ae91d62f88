"""Why a key cannot take a call now, until when, and what that means for the client.

Each block says whether it is about quota (a cooldown, a spent local budget): quota blocks
end at a known time, so a request may wait for them and the client gets 429 with a true
Retry-After. Other blocks (open breaker, disabled, already tried) mean 503. A key outside
the upstreams a request's project may use is not in its pool at all: it is skipped, and
left out of the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trioproxy.pool.breaker import State
from trioproxy.pool.state import KeyState

# A 503 body lists at most this many keys: a pool of thousands must not make it huge.
MAX_LISTED_KEYS = 20
# Seconds after which a trial in flight is worth asking about again.
TRIAL_RECHECK = 1.0


@dataclass(frozen=True, slots=True)
class Block:
    # outside | disabled | tried | open | trial_in_flight | thawing | cooling | budget
    reason: str
    until: float | None = None
    quota: bool = False
    per_day: bool = False
    detail: str | None = None


class Exclusions(dict[str, str]):
    """The keys one request may not use: those it failed on (name -> why), and with
    `upstreams`, every key outside those upstreams (a project's confinement)."""

    def __init__(self, upstreams: Collection[str] | None = None) -> None:
        super().__init__()
        self.upstreams = upstreams

    def outside(self, key: KeyState) -> bool:
        return self.upstreams is not None and key.spec.upstream not in self.upstreams


OUTSIDE = "outside"


def iter_blocks(
    key: KeyState, model: str, now: float, wall: float, exclude: Container[str] = ()
) -> Iterator[Block]:
    """The reasons, cheapest checks first, lazily: the hot path only needs the first."""
    if isinstance(exclude, Exclusions) and exclude.outside(key):
        yield Block(OUTSIDE)
        return
    if key.disabled is not None:
        yield Block("disabled", detail=key.disabled)
    if key.name in exclude:
        detail = exclude[key.name] if isinstance(exclude, Mapping) else None
        yield Block("tried", detail=detail)
    state = key.breaker.current(now)
    if state is State.OPEN:
        yield Block("open", until=key.breaker.reopen_at)
    elif key.breaker.on_trial and key.breaker.trial_taken:
        # The trial's answer usually comes within a second; a guess, so clients get a
        # Retry-After rather than none.
        yield Block("trial_in_flight", now + TRIAL_RECHECK)
    cooldown = key.cooldowns.active(model, now)
    thawed_at = key.cooldowns.thaw_until(model, now) if cooldown is None else None
    if thawed_at is not None:
        yield Block("thawing", thawed_at, quota=True)
    if cooldown is not None:
        yield Block(
            "cooling",
            cooldown.until,
            quota=True,
            per_day=cooldown.per_day,
            detail=cooldown.dimension,
        )
    budget = key.budget(model)
    spent = budget.spent(now, wall) if budget is not None else None
    if spent is not None:
        yield Block("budget", spent.until, quota=True, per_day=spent.per_day, detail=spent.limit)


def first_block(
    key: KeyState, model: str, now: float, wall: float, exclude: Container[str] = ()
) -> Block | None:
    return next(iter_blocks(key, model, now, wall, exclude), None)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No key can take this call now."""

    # Seconds until the first key becomes usable again, when that time is known.
    retry_after: float | None
    # Seconds until the first key held *only* by quota is usable: the request may wait.
    wait: float | None
    # Every enabled key is held by quota (answer 429), not failing or open (503).
    quota: bool
    # ... and every one of them by a daily quota: nothing before the Pacific reset.
    per_day: bool
    all_disabled: bool
    keys: list[dict[str, Any]]


def unavailable(
    keys: Sequence[KeyState],
    now: float,
    blocks: Callable[[KeyState], list[Block]],
) -> Unavailable:
    retry_at: float | None = None
    wait_at: float | None = None
    enabled = quota = per_day = 0
    listed: list[dict[str, Any]] = []
    considered = 0
    for key in keys:
        found = blocks(key)
        if found and found[0].reason == OUTSIDE:
            continue
        considered += 1
        if len(listed) < MAX_LISTED_KEYS:
            listed.append(describe(key, found, now))
        if any(block.reason == "disabled" for block in found):
            continue
        enabled += 1
        timed = found and all(block.until is not None for block in found)
        until = max(block.until or 0.0 for block in found) if timed else None
        if until is not None:
            retry_at = until if retry_at is None else min(retry_at, until)
        if found and all(block.quota for block in found):
            quota += 1
            per_day += any(block.per_day for block in found)
            if until is not None:
                wait_at = until if wait_at is None else min(wait_at, until)
    if considered > MAX_LISTED_KEYS:
        listed.append({"name": f"... and {considered - MAX_LISTED_KEYS} more keys"})
    all_quota = enabled > 0 and quota == enabled
    return Unavailable(
        retry_after=None if retry_at is None else max(0.0, retry_at - now),
        wait=None if wait_at is None else max(0.0, wait_at - now),
        quota=all_quota,
        per_day=all_quota and per_day == enabled,
        all_disabled=enabled == 0,
        keys=listed,
    )


_STATES = {"tried": "failed"}


def describe(key: KeyState, blocks: list[Block], now: float) -> dict[str, Any]:
    """A diagnostic safe to show clients: the key's name and state. Not even a hash of
    the secret: an unsalted one would let a caller confirm a guessed key."""
    entry: dict[str, Any] = {"name": key.name}
    if not blocks:
        entry["state"] = "available"
        return entry
    block = blocks[0]
    entry["state"] = _STATES.get(block.reason, block.reason)
    if block.detail:
        # An operator's disable reason is for operators (the admin API): clients, who
        # see every 503, get only that it was an operator. Gemini's reasons are shown.
        operator = block.reason == "disabled" and key.disabled_by_operator
        entry["reason"] = "admin" if operator else block.detail
    until = max((b.until for b in blocks if b.until is not None), default=None)
    if until is not None:
        entry["retry_after"] = round(until - now, 3)
    if block.quota:
        entry["per_day"] = any(b.per_day for b in blocks)
    return entry
