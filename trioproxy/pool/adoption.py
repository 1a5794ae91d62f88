"""Building a pool's key states, fresh or from the pool a reload replaces.

A key with the same name and secret (compared by fingerprint) is the same credential:
it keeps its `KeyState` object, so its cooldowns, breaker, health, load and usage carry
over. A key of a `project` uses the project's quota scope, carried over too: the quota is
the project's, whatever its keys. A key's own scope belongs to its secret: a key whose
secret changed under the same name (a rotated key) starts with a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from trioproxy.config.model import KeySpec
from trioproxy.pool.breaker import BreakerPolicy
from trioproxy.pool.overrides import Override
from trioproxy.pool.quota import QuotaScope
from trioproxy.pool.state import KeyState

Previous = tuple[Mapping[str, KeyState], Mapping[str, QuotaScope]]


def build_keys(
    specs: Iterable[KeySpec],
    *,
    previous: Previous | None,
    overrides: Mapping[str, Override],
    breaker: BreakerPolicy,
    health_window: float,
    random: Callable[[], float],
) -> tuple[list[KeyState], dict[str, QuotaScope]]:
    kept, old_scopes = previous if previous is not None else ({}, {})
    keys: list[KeyState] = []
    scopes: dict[str, QuotaScope] = {}
    for spec in specs:
        old = kept.get(spec.name)
        if old is not None and old.spec.secret.fingerprint != spec.secret.fingerprint:
            old = None  # same name, new secret: a new credential
        scope_id = f"project:{spec.project}" if spec.project else f"key:{spec.name}"
        scope = scopes.get(scope_id)
        if scope is None and (spec.project or old is not None):
            scope = old_scopes.get(scope_id)
        if scope is None:
            scope = QuotaScope(scope_id, spec.limits)
        else:
            # The config requires one project's keys to declare the same limits.
            scope.set_limits(spec.limits)
        scopes[scope_id] = scope
        override = overrides.get(spec.name)
        if old is not None:
            old.adopt(spec, override, scope, breaker, health_window)
            keys.append(old)
            continue
        key = KeyState(
            spec, quota=scope, breaker=breaker, health_window=health_window, random=random
        )
        key.configure(spec, override)
        keys.append(key)
    return keys, scopes
