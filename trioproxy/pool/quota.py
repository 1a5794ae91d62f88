"""Gemini quota dimensions, and the cooldowns a 429 puts on a (key, model, dimension).

A 429 names the quotas it hit (`QuotaFailure.violations[].quotaId`, gemini-api.md 4.3);
each id maps to one dimension. Cooldowns are kept per dimension so a short per-minute
cooldown can never shorten a per-day one that is already running.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from trioproxy.config.model import LimitSpec
from trioproxy.pool.budget import Budget

REQUESTS_PER_MINUTE = "requests_per_minute"
TOKENS_PER_MINUTE = "tokens_per_minute"
REQUESTS_PER_DAY = "requests_per_day"
TOKENS_PER_DAY = "tokens_per_day"
# A 429 that names no quota (the "minimal" body, or only a Help link).
UNSPECIFIED = "unspecified"


def dimension_of(quota_id: str) -> str:
    """`GenerateRequestsPerDayPerProjectPerModel-FreeTier` -> requests_per_day, etc."""
    tokens = "Token" in quota_id
    if "PerDay" in quota_id:
        return TOKENS_PER_DAY if tokens else REQUESTS_PER_DAY
    if "PerMinute" in quota_id:
        return TOKENS_PER_MINUTE if tokens else REQUESTS_PER_MINUTE
    return UNSPECIFIED


def dimensions_of(quota_ids: tuple[str, ...]) -> tuple[str, ...]:
    found = dict.fromkeys(dimension_of(quota_id) for quota_id in quota_ids)
    return tuple(found) or (UNSPECIFIED,)


def cooled_dimensions(quota_ids: tuple[str, ...], per_day: bool) -> tuple[str, ...]:
    """The dimensions a 429 cools: those its quota ids name, and a daily one when the
    error said "per day" without naming which."""
    dimensions = dimensions_of(quota_ids)
    if per_day and not any(is_daily(d) for d in dimensions):
        return (REQUESTS_PER_DAY,)
    return dimensions


def is_daily(dimension: str) -> bool:
    return dimension in (REQUESTS_PER_DAY, TOKENS_PER_DAY)


@dataclass(slots=True)
class Cooldown:
    until: float
    dimension: str
    quota_ids: tuple[str, ...] = ()
    # The key whose 429 started it (differs from the cooled key for a shared project).
    source: str | None = None

    @property
    def per_day(self) -> bool:
        return is_daily(self.dimension)


# How long the first call after a cooldown holds the others back. Gemini checks quota
# before it generates, so a 429 comes back within a second or two; a call that has not
# been refused by then is past the quota check, and the key is thawed even if the answer
# itself (a long generation) takes minutes.
THAW_WINDOW = 2.0


class Cooldowns:
    """The running cooldowns of one quota (a project, or a key of its own):
    model -> dimension -> Cooldown.

    When a model's last cooldown ends, the quota *thaws* for it: one call goes through
    and the others keep off for up to THAW_WINDOW, so the end of a cooldown does not
    release a burst that earns a fresh 429 for everyone. The thaw ends with that call's
    answer, or with the window.
    """

    __slots__ = ("_by_model", "_thawing")

    def __init__(self) -> None:
        self._by_model: dict[str, dict[str, Cooldown]] = {}
        # model -> None: thawing, no call out yet; a float: the thaw call's start.
        self._thawing: dict[str, float | None] = {}

    def add(self, model: str, cooldown: Cooldown) -> None:
        """Start a cooldown, or extend a running one; never shorten it."""
        running = self._by_model.setdefault(model, {})
        current = running.get(cooldown.dimension)
        if current is None or current.until < cooldown.until:
            running[cooldown.dimension] = cooldown

    def active(self, model: str, now: float) -> Cooldown | None:
        """The cooldown that ends last for this model, or None; expired ones are dropped."""
        running = self._by_model.get(model)
        if not running:
            return None
        latest: Cooldown | None = None
        for dimension, cooldown in list(running.items()):
            if cooldown.until <= now:
                del running[dimension]
            elif latest is None or cooldown.until > latest.until:
                latest = cooldown
        if not running:
            del self._by_model[model]
            # A thaw call still inside its window stays the thaw call; otherwise the next
            # call is.
            started = self._thawing.get(model)
            if started is None or now >= started + THAW_WINDOW:
                self._thawing[model] = None
        return latest

    def thaw_until(self, model: str, now: float) -> float | None:
        """While the thaw call for `model` is out: when the others may follow."""
        started = self._thawing.get(model)
        if started is None:
            return None
        until = started + THAW_WINDOW
        if now >= until:
            del self._thawing[model]
            return None
        return until

    def start_thaw(self, model: str, now: float) -> float | None:
        """Called when a call is lent: if it is the model's thaw call, a token for
        `end_thaw` (the thaw's start time), else None."""
        if model in self._thawing and self._thawing[model] is None:
            self._thawing[model] = now
            return now
        return None

    def end_thaw(self, model: str, token: float, *, answered: bool) -> None:
        """The thaw call `token` ended: answered, the quota is thawed; abandoned (the
        client left), the next call becomes the thaw call. A token from an earlier thaw
        changes nothing."""
        if self._thawing.get(model) != token:
            return
        if answered:
            del self._thawing[model]
        else:
            self._thawing[model] = None

    def snapshot(self, now: float) -> dict[str, list[Cooldown]]:
        """Every running cooldown, by model (for diagnostics and persistence)."""
        for model in list(self._by_model):
            self.active(model, now)
        return {model: list(running.values()) for model, running in self._by_model.items()}

    def clear(self) -> None:
        self._by_model.clear()
        self._thawing.clear()


class QuotaScope:
    """The quota one Google Cloud project spends, shared by its keys (a key without a
    `project` is a scope of its own): its cooldowns, thaws and local budgets. `name` is
    `project:<project>` or `key:<key name>`."""

    __slots__ = ("_budgets", "cooldowns", "limits", "name")

    def __init__(self, name: str, limits: tuple[LimitSpec, ...]) -> None:
        self.name = name
        self.limits = limits
        self.cooldowns = Cooldowns()
        # model -> its Budget; only models some limits glob matches get one.
        self._budgets: dict[str, Budget] = {}

    def set_limits(self, limits: tuple[LimitSpec, ...]) -> None:
        """New limits from a reload. A model whose limits did not change keeps its budget
        (today's counts); the others start afresh. Cooldowns stay: they are Gemini's."""
        if limits == self.limits:
            return
        self.limits = limits
        for model, budget in list(self._budgets.items()):
            if self._limits_for(model) != budget.limits:
                del self._budgets[model]

    def budget(self, model: str) -> Budget | None:
        """The local budget for `model` (created on first use), or None if unlimited."""
        budget = self._budgets.get(model)
        if budget is not None or not self.limits or not model:
            # Model-less calls (listing models) spend no quota.
            return budget
        limits = self._limits_for(model)
        if limits is None:
            return None
        budget = self._budgets[model] = Budget(limits)
        return budget

    def _limits_for(self, model: str) -> LimitSpec | None:
        # The first glob that matches, as documented for `limits:` in keys.yaml.
        for limits in self.limits:
            if fnmatch.fnmatchcase(model, limits.models):
                return limits
        return None

    def budgets(self) -> dict[str, Budget]:
        return dict(self._budgets)
