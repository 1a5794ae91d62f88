"""What the admin API does to keys: disable, enable, reset, override weight/priority.

Each change is marked for the state writer (so it survives a restart) and wakes the
prober (its schedule may have changed). Disabling lets calls already in flight finish;
it only stops new ones.
"""

from __future__ import annotations

import math
from typing import Any

from trioproxy.errors import InvalidRequest, NotFound
from trioproxy.pool import KeyPool, KeyState
from trioproxy.pool.overrides import Override
from trioproxy.pool.state import ADMIN_PREFIX
from trioproxy.state.snapshot import MAX_WEIGHT, MIN_WEIGHT

MAX_PRIORITY = 1_000_000


def find(pool: KeyPool, name: str) -> KeyState:
    key = pool.by_name.get(name)
    if key is None:
        raise NotFound(f"No key named {name[:100]!r} in the running config.", code="key_not_found")
    return key


def disable(pool: KeyPool, key: KeyState, reason: str | None) -> None:
    key.disabled = ADMIN_PREFIX + (reason or "disabled by an operator")
    # Calls and probes already out become stale: none of their results can lift it.
    key.breaker.retire()
    pool.changed(key)


def enable(pool: KeyPool, key: KeyState) -> None:
    """Back in service, whether an operator or an auth failure disabled it."""
    learned = key.disabled is not None and not key.disabled_by_operator
    key.disabled = None
    if learned:
        # An auth failure retired the breaker; the key starts over as the prober's
        # passed re-check would have it.
        key.breaker.reset()
        key.health.clear()
    pool.changed(key)


def reset(pool: KeyPool, key: KeyState) -> None:
    """Forget what the gateway learned about the key: breaker, health, cooldowns (for a
    project key: the project's, shared with its other keys), an auth disable. An
    operator's disable stays: that is a decision, not something learned."""
    key.breaker.retire()  # calls already out are stale: they decide nothing now
    key.health.clear()
    key.cooldowns.clear()
    if key.disabled is not None and not key.disabled_by_operator:
        key.disabled = None
    pool.changed(key)


def parse_override(body: object, current: Override | None) -> Override | None:
    """A PATCH body: {"weight": number > 0 | null, "priority": int >= 0 | null}; a field
    left out keeps its override, null removes it. None: no override left."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = set(body) - {"weight", "priority"}
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    weight = current.weight if current else None
    priority = current.priority if current else None
    if "weight" in body:
        weight = _weight(body["weight"])
    if "priority" in body:
        priority = _priority(body["priority"])
    override = Override(weight, priority)
    return override or None


def _weight(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest("`weight` must be a number greater than 0, or null.", param="weight")
    if not (math.isfinite(value) and MIN_WEIGHT <= value <= MAX_WEIGHT):
        raise InvalidRequest(
            f"`weight` must be a number from {MIN_WEIGHT} to {MAX_WEIGHT:g}, or null.",
            param="weight",
        )
    return float(value)


def _priority(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRIORITY:
        raise InvalidRequest(
            f"`priority` must be an integer from 0 to {MAX_PRIORITY}, or null.", param="priority"
        )
    return value
