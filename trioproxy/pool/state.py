"""Everything the pool knows about one key: breaker, cooldowns, health, budgets, load."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from trioproxy.config.model import KeySpec
from trioproxy.pool.breaker import Breaker, BreakerPolicy
from trioproxy.pool.budget import Budget
from trioproxy.pool.health import HealthWindow
from trioproxy.pool.quota import Cooldowns


class KeyState:
    __slots__ = (
        "_budgets",
        "auth_recheck_at",
        "breaker",
        "cooldowns",
        "disabled",
        "health",
        "inflight",
        "last_model",
        "spec",
    )

    def __init__(
        self,
        spec: KeySpec,
        *,
        breaker: BreakerPolicy | None = None,
        health_window: float = 300.0,
        random: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.spec = spec
        # "auth: <reason>" once Gemini rejected the credential; later also admin actions.
        self.disabled: str | None = None
        self.auth_recheck_at = 0.0
        self.breaker = Breaker(breaker or BreakerPolicy(), random)
        self.cooldowns = Cooldowns()
        self.health = HealthWindow(health_window)
        self.inflight = 0
        # The model of the last failed call: what a recovery probe asks about.
        self.last_model: str | None = None
        # model -> its Budget; only models some limits glob matches get one.
        self._budgets: dict[str, Budget] = {}

    @property
    def name(self) -> str:
        return self.spec.name

    def budget(self, model: str) -> Budget | None:
        """The local budget for `model` (created on first use), or None if unlimited."""
        budget = self._budgets.get(model)
        if budget is not None or not self.spec.limits or not model:
            # Model-less calls (listing models) spend no quota.
            return budget
        for limits in self.spec.limits:
            if fnmatch.fnmatchcase(model, limits.models):
                budget = self._budgets[model] = Budget(limits)
                return budget
        return None

    def budgets(self) -> dict[str, Budget]:
        return dict(self._budgets)
