"""One word for a key's condition, for operators (metrics, the admin API, /v1/status).

The breaker's state, unless something outranks it: a disabled key is `disabled`, and a
closed key with a running cooldown on any model is `cooling` (it may still serve other
models; the cooldowns per model say which).
"""

from __future__ import annotations

from trioproxy.pool.breaker import State
from trioproxy.pool.state import KeyState

KEY_STATES = ("closed", "open", "half_open", "probation", "cooling", "disabled")


def key_state(key: KeyState, now: float) -> str:
    if key.disabled is not None:
        return "disabled"
    state = key.breaker.current(now)
    if state is State.CLOSED and key.cooldowns.snapshot(now):
        return "cooling"
    return state.value
