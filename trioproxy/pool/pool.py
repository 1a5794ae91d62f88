"""The credential pool: which key serves the next attempt, and what an outcome does to it.

Pure and synchronous: every decision takes `now` (the trio clock, seconds) and, for per-day
quotas, `wall` (UNIX time) as arguments, so tests drive it in virtual time and the
dispatcher does all I/O around it.

Rules:
1. A key disabled for auth (invalid, expired, leaked, forbidden) is never chosen again.
2. A 429 cools that (key, model) only: the same key still serves other models.
3. A per-day 429 cools the (key, model) until the next daily reset, whatever retryDelay says.
4. Transient failures (5xx, timeouts) do not change the key's state here; the request moves
   on to the next key. (The circuit breaker of the resilience engine builds on this.)
5. Selection is round robin over the usable keys, skipping those the request already tried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trioproxy.config.model import KeySpec
from trioproxy.pool.outcome import AuthFailure, Outcome, RateLimited
from trioproxy.pool.reset import seconds_until_daily_reset


@dataclass(slots=True)
class Cooldown:
    until: float
    per_day: bool
    quota_ids: tuple[str, ...]


@dataclass(slots=True)
class KeyState:
    spec: KeySpec
    disabled: str | None = None
    cooldowns: dict[str, Cooldown] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def cooling(self, model: str, now: float) -> Cooldown | None:
        cooldown = self.cooldowns.get(model)
        if cooldown is None:
            return None
        if cooldown.until <= now:
            del self.cooldowns[model]
            return None
        return cooldown


@dataclass(frozen=True, slots=True)
class Pick:
    key: KeyState


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No key can take this attempt. `retry_after` is set when every key that could ever
    serve is cooling (seconds to the earliest recovery)."""

    retry_after: float | None
    per_day: bool
    keys: list[dict[str, Any]]


class KeyPool:
    def __init__(self, keys: Iterable[KeySpec], *, default_cooldown: float = 60.0) -> None:
        self.keys = [KeyState(spec) for spec in keys]
        self.default_cooldown = default_cooldown
        self._cursor = 0

    def choose(self, model: str, now: float, tried: Mapping[str, str]) -> Pick | Unavailable:
        """`tried` maps the names of keys this request already failed on to the reason."""
        count = len(self.keys)
        for offset in range(count):
            key = self.keys[(self._cursor + offset) % count]
            if key.disabled or key.name in tried or key.cooling(model, now):
                continue
            self._cursor = (self._cursor + offset + 1) % count
            return Pick(key)
        return self._unavailable(model, now, tried)

    def report(
        self, key: KeyState, model: str, outcome: Outcome, *, now: float, wall: float
    ) -> None:
        if isinstance(outcome, RateLimited):
            delay = (
                outcome.retry_after if outcome.retry_after is not None else self.default_cooldown
            )
            if outcome.per_day:
                delay = max(delay, seconds_until_daily_reset(wall))
            key.cooldowns[model] = Cooldown(now + delay, outcome.per_day, outcome.quota_ids)
        elif isinstance(outcome, AuthFailure):
            key.disabled = f"auth: {outcome.reason}"

    def _unavailable(self, model: str, now: float, tried: Mapping[str, str]) -> Unavailable:
        cooling = [(key, key.cooling(model, now)) for key in self.keys if not key.disabled]
        cooldowns = [c for _, c in cooling if c is not None]
        all_cooling = bool(cooling) and len(cooldowns) == len(cooling)
        retry_after = min(c.until for c in cooldowns) - now if all_cooling else None
        per_day = all_cooling and all(c.per_day for c in cooldowns)
        return Unavailable(
            retry_after, per_day, [self.describe(k, model, now, tried) for k in self.keys]
        )

    def describe(
        self, key: KeyState, model: str, now: float, tried: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """A diagnostic safe to show clients: the key's name and state. Not even a hash of
        the secret: an unsalted one would let a caller confirm a guessed key."""
        entry: dict[str, Any] = {"name": key.name}
        cooldown = key.cooling(model, now)
        if key.disabled:
            entry["state"] = "disabled"
            entry["reason"] = key.disabled
        elif cooldown is not None:
            entry["state"] = "cooling"
            entry["retry_after"] = round(cooldown.until - now, 3)
            entry["per_day"] = cooldown.per_day
        elif tried and key.name in tried:
            entry["state"] = "failed"
            entry["reason"] = tried[key.name]
        else:
            entry["state"] = "available"
        return entry
