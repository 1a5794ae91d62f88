"""What the admin API and /v1/status show of the pool: plain JSON, no secret.

A key is shown by name, with its secret as a fingerprint (`sha256:` and 12 hex digits):
enough for an operator to tell two keys apart or match one against their records, never
the key. These views are for holders of the admin token only; client-facing errors show
even less (trioproxy.pool.blocks.describe).
"""

from __future__ import annotations

from typing import Any

from trioproxy.pool import KeyPool, KeyState
from trioproxy.pool.status import KEY_STATES, key_state


def key_view(key: KeyState, now: float, wall: float) -> dict[str, Any]:
    breaker = key.breaker
    successes, failures = key.health.counts(now)
    usage = key.usage.today(wall)
    override = key.override
    return {
        "name": key.name,
        "secret": f"sha256:{key.spec.secret.fingerprint}",
        "upstream": key.spec.upstream,
        "project": key.spec.project,
        "state": key_state(key, now),
        "disabled": key.disabled,
        "breaker": {
            "state": breaker.current(now).value,
            "consecutive_failures": breaker.failures,
            "opens": breaker.opens,
            "half_open_in": round(breaker.reopen_at - now, 3)
            if breaker.state.value == "open"
            else None,
        },
        "health": {
            "score": round(key.health.score(now), 4),
            "successes": successes,
            "failures": failures,
        },
        "cooldowns": {
            model: [
                {
                    "dimension": cooldown.dimension,
                    "seconds": round(cooldown.until - now, 3),
                    "per_day": cooldown.per_day,
                    "source": cooldown.source,
                }
                for cooldown in running
            ]
            for model, running in key.cooldowns.snapshot(now).items()
        },
        "in_flight": key.inflight,
        # In use, from keys.yaml, and the admin's override (null: none).
        "weight": key.spec.weight,
        "priority": key.spec.priority,
        "configured": {"weight": key.configured.weight, "priority": key.configured.priority},
        "override": {"weight": override.weight, "priority": override.priority}
        if override
        else None,
        "usage_today": {
            "day": usage.day,
            "requests": usage.requests,
            "failures": usage.failures,
            "rate_limited": usage.rate_limited,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        },
    }


def pool_summary(pool: KeyPool, now: float, wall: float) -> dict[str, Any]:
    """/v1/status: counts by state, and per model with a cooldown, how many keys serve."""
    states = dict.fromkeys(KEY_STATES, 0)
    models: set[str] = set()
    keys = []
    for key in pool.keys:
        state = key_state(key, now)
        states[state] += 1
        cooling = key.cooldowns.snapshot(now)
        models.update(cooling)
        keys.append(
            {
                "name": key.name,
                "state": state,
                "cooldowns": {
                    model: round(max(c.until for c in running) - now, 3)
                    for model, running in cooling.items()
                },
            }
        )
    return {
        "keys": len(pool.keys),
        "states": states,
        "usable": usable_keys(pool, now),
        "models": {model: {"usable": pool.usable_count(model, now, wall)} for model in models},
        "pool": keys,
    }


def usable_keys(pool: KeyPool, now: float) -> int:
    """Keys that can serve some model now: not disabled, breaker not open (a cooling key
    counts: it serves other models, and its own again soon)."""
    return sum(key_state(key, now) not in ("open", "disabled") for key in pool.keys)
