"""Everything the pool knows about one key: breaker, quota (shared with its project),
health, load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from trioproxy.config.model import KeySpec
from trioproxy.pool.breaker import Breaker, BreakerPolicy
from trioproxy.pool.budget import Budget
from trioproxy.pool.health import HealthWindow
from trioproxy.pool.overrides import Override
from trioproxy.pool.quota import Cooldowns, QuotaScope
from trioproxy.pool.usage import KeyUsage

# How `KeyState.disabled` says who disabled a key.
AUTH_PREFIX = "auth: "  # Gemini rejected the credential: the prober re-checks it
ADMIN_PREFIX = "admin: "  # an operator: only an operator lifts it


class LoadListener(Protocol):
    def load_changed(self, key: KeyState, before: int) -> None: ...


class KeyState:
    __slots__ = (
        "auth_recheck_at",
        "breaker",
        "configured",
        "disabled",
        "health",
        "inflight",
        "last_model",
        "override",
        "quota",
        "selector",
        "spec",
        "usage",
    )

    def __init__(
        self,
        spec: KeySpec,
        *,
        quota: QuotaScope | None = None,
        breaker: BreakerPolicy | None = None,
        health_window: float = 300.0,
        random: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.spec = spec
        # What keys.yaml says, and the admin's override of it (`spec` has it applied).
        self.configured = spec
        self.override: Override | None = None
        # "auth: <reason>" once Gemini rejected the credential; "admin: <reason>" when an
        # operator disabled the key.
        self.disabled: str | None = None
        self.auth_recheck_at = 0.0
        self.breaker = Breaker(breaker or BreakerPolicy(), random)
        # Shared with the other keys of the same project.
        self.quota = quota or QuotaScope(f"key:{spec.name}", spec.limits)
        self.health = HealthWindow(health_window)
        self.inflight = 0
        # The model of the last failed call: what a recovery probe asks about.
        self.last_model: str | None = None
        self.usage = KeyUsage()
        # The selector of the pool now serving this key: told when `inflight` changes.
        self.selector: LoadListener | None = None

    def configure(self, spec: KeySpec, override: Override | None) -> None:
        """Its spec from keys.yaml, with the admin's override (if any) applied."""
        self.configured, self.override = spec, override
        self.spec = override.apply(spec) if override else spec

    def adopt(
        self,
        spec: KeySpec,
        override: Override | None,
        quota: QuotaScope,
        breaker: BreakerPolicy,
        health_window: float,
    ) -> None:
        """Carry this key's state into a reloaded config (same name, same secret)."""
        self.configure(spec, override)
        self.quota = quota
        self.breaker.policy = breaker
        if health_window != self.health.window:
            self.health = HealthWindow(health_window)

    @property
    def disabled_by_auth(self) -> bool:
        return self.disabled is not None and self.disabled.startswith(AUTH_PREFIX)

    @property
    def disabled_by_operator(self) -> bool:
        return self.disabled is not None and self.disabled.startswith(ADMIN_PREFIX)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def cooldowns(self) -> Cooldowns:
        return self.quota.cooldowns

    def budget(self, model: str) -> Budget | None:
        return self.quota.budget(model)
