"""Between the live pool and its persisted records: `capture` and `restore`.

The pool runs on the trio clock (`now`), which restarts with every process; records keep
UNIX wall time. Every conversion is `wall + (t - now)` one way and `now + (w - wall)` the
other, done here and nowhere else.

What is kept per key: disabled (and when to re-check it), the breaker (state, failure
count, openings, when it may half-open), the health window's buckets, the model last
failed on (what a probe asks about), and today's usage. Per quota scope: running
cooldowns and the local budgets' windows. A thaw in progress is not kept: after a
restart the first call on a thawed quota is its test again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from trioproxy import logs
from trioproxy.pool import KeyPool, KeyState
from trioproxy.pool.breaker import State
from trioproxy.pool.overrides import Override
from trioproxy.pool.quota import Cooldown, QuotaScope
from trioproxy.pool.usage import pacific_day
from trioproxy.state.snapshot import (
    BudgetRecord,
    CooldownRecord,
    KeyRecord,
    ScopeRecord,
    Snapshot,
    UsageRecord,
)

_Clock = Callable[[float], float]


def capture(keys: Iterable[KeyState], now: float, wall: float) -> Snapshot:
    """A batch with these keys, their quota scopes and their usage today."""
    batch = Snapshot(saved_at=wall)
    for key in keys:
        batch.keys[key.name] = capture_key(key, now, wall)
        if key.quota.name not in batch.scopes:
            batch.scopes[key.quota.name] = capture_scope(key.quota, now, wall)
        usage = key.usage
        if usage.day:
            batch.usage[(key.name, usage.day)] = UsageRecord(
                key.name,
                usage.day,
                usage.requests,
                usage.failures,
                usage.rate_limited,
                usage.prompt_tokens,
                usage.completion_tokens,
            )
    return batch


def capture_key(key: KeyState, now: float, wall: float) -> KeyRecord:
    def to_wall(t: float) -> float:
        return wall + (t - now)

    breaker = key.breaker
    return KeyRecord(
        name=key.name,
        fingerprint=key.spec.secret.fingerprint,
        disabled=key.disabled,
        auth_recheck_at=to_wall(key.auth_recheck_at) if key.disabled else None,
        breaker=breaker.state.value,
        failures=breaker.failures,
        opens=breaker.opens,
        reopen_at=to_wall(breaker.reopen_at) if breaker.state is State.OPEN else None,
        health=tuple((to_wall(t), ok, bad) for t, ok, bad in key.health.buckets(now)),
        last_model=key.last_model,
        weight=key.override.weight if key.override else None,
        priority=key.override.priority if key.override else None,
    )


def capture_scope(scope: QuotaScope, now: float, wall: float) -> ScopeRecord:
    cooldowns = tuple(
        CooldownRecord(model, c.dimension, wall + (c.until - now), c.quota_ids, c.source)
        for model, running in scope.cooldowns.snapshot(now).items()
        for c in running
    )
    budgets = []
    for model, budget in scope.budgets().items():
        requests, tokens, day, count = budget.windows(now)
        budgets.append(
            BudgetRecord(
                model,
                tuple(wall + (t - now) for t in requests),
                tuple((wall + (t - now), n) for t, n in tokens),
                day,
                count,
            )
        )
    return ScopeRecord(cooldowns, tuple(budgets))


def saved_overrides(saved: Snapshot, fingerprints: Mapping[str, str]) -> dict[str, Override]:
    """The admin's overrides in a saved state, by key name, for the keys whose secret is
    still the one they were set on (`fingerprints`: name -> fingerprint of the config's
    keys): applied when the pool is built, before `restore` (they shape its tiers)."""
    found = {
        record.name: Override(record.weight, record.priority)
        for record in saved.keys.values()
        if fingerprints.get(record.name) == record.fingerprint
    }
    return {name: override for name, override in found.items() if override}


@dataclass(frozen=True, slots=True)
class Restored:
    keys: int  # keys whose state came back
    # Saved under a name whose secret is different now: a new credential, started fresh.
    rotated: tuple[str, ...] = ()


def restore(pool: KeyPool, saved: Snapshot, now: float, wall: float) -> Restored:
    """Put saved state back into a freshly built pool (at startup, or on import)."""

    def to_now(w: float) -> float:
        return now + (w - wall)

    restored, rotated = 0, []
    for key in pool.keys:
        record = saved.keys.get(key.name)
        if record is None:
            continue
        if record.fingerprint != key.spec.secret.fingerprint:
            rotated.append(key.name)
            continue
        try:
            _restore_key(key, record, State(record.breaker), to_now, now)
        except (TypeError, ValueError) as error:
            # Records are checked when read (Snapshot.from_json); this keeps one bad
            # record from stopping the start of the gateway anyway.
            logs.event("saved state of a key is unusable", logging.WARNING, key=key.name,
                       error=str(error))  # fmt: skip
            continue
        restored += 1
        usage = saved.usage.get((key.name, pacific_day(wall)))
        if usage is not None:
            today = key.usage.today(wall)
            today.requests, today.failures = usage.requests, usage.failures
            today.rate_limited = usage.rate_limited
            today.prompt_tokens = usage.prompt_tokens
            today.completion_tokens = usage.completion_tokens
    for name, scope in pool.scopes.items():
        record_scope = saved.scopes.get(name)
        if record_scope is not None and _owned(pool, scope, rotated):
            _restore_scope(scope, record_scope, to_now, now)
    if rotated:
        logs.event(
            "state not restored for keys whose secret changed",
            logging.WARNING,
            keys=rotated,
        )
    return Restored(restored, tuple(rotated))


def _owned(pool: KeyPool, scope: QuotaScope, rotated: list[str]) -> bool:
    # A key's own scope belongs to its secret: a rotated key's old cooldowns are not its
    # new secret's. A project's scope is the project's, whatever its keys' secrets.
    return not (scope.name.startswith("key:") and scope.name[4:] in rotated)


def _restore_key(
    key: KeyState, record: KeyRecord, state: State, to_now: _Clock, now: float
) -> None:
    key.disabled = record.disabled
    if record.auth_recheck_at is not None:
        key.auth_recheck_at = to_now(record.auth_recheck_at)
    breaker = key.breaker
    breaker.state = state
    breaker.failures, breaker.opens = record.failures, record.opens
    breaker.trial_taken = False
    if record.reopen_at is not None:
        breaker.reopen_at = to_now(record.reopen_at)
    key.health.load([(to_now(t), ok, bad) for t, ok, bad in record.health], now)
    key.last_model = record.last_model


def _restore_scope(scope: QuotaScope, record: ScopeRecord, to_now: _Clock, now: float) -> None:
    for c in record.cooldowns:
        until = to_now(c.until)
        if until > now:
            scope.cooldowns.add(c.model, Cooldown(until, c.dimension, c.quota_ids, c.source))
    for b in record.budgets:
        budget = scope.budget(b.model)
        if budget is not None:  # its limits may be gone from the config
            budget.load(
                [to_now(t) for t in b.requests],
                [(to_now(t), n) for t, n in b.tokens],
                b.day,
                b.day_count,
            )
