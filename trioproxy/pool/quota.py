"""Gemini quota dimensions, and the cooldowns a 429 puts on a (key, model, dimension).

A 429 names the quotas it hit (`QuotaFailure.violations[].quotaId`, gemini-api.md 4.3);
each id maps to one dimension. Cooldowns are kept per dimension so a short per-minute
cooldown can never shorten a per-day one that is already running.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUESTS_PER_MINUTE = "requests_per_minute"
TOKENS_PER_MINUTE = "tokens_per_minute"
REQUESTS_PER_DAY = "requests_per_day"
TOKENS_PER_DAY = "tokens_per_day"
# A 429 that names no quota (the "minimal" body, or only a Help link).
UNSPECIFIED = "unspecified"
DIMENSIONS = (
    REQUESTS_PER_MINUTE,
    TOKENS_PER_MINUTE,
    REQUESTS_PER_DAY,
    TOKENS_PER_DAY,
    UNSPECIFIED,
)


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


class Cooldowns:
    """The running cooldowns of one key: model -> dimension -> Cooldown.

    When a model's last cooldown ends, the key *thaws* for it: one call goes through, and
    the others wait for its answer (or go to other keys), so a cooldown's end does not
    release a burst that earns a fresh 429 for everyone. The thaw ends with that call's
    answer, whatever it is (a new 429 starts a new cooldown).
    """

    __slots__ = ("_by_model", "_thawing")

    def __init__(self) -> None:
        self._by_model: dict[str, dict[str, Cooldown]] = {}
        # model -> whether its one thaw call is out.
        self._thawing: dict[str, bool] = {}

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
            self._thawing[model] = False
        return latest

    def thaw_in_flight(self, model: str) -> bool:
        return self._thawing.get(model, False)

    def start_thaw(self, model: str) -> bool:
        """Called when a call is lent: True if it is the model's thaw call."""
        if self._thawing.get(model) is False:
            self._thawing[model] = True
            return True
        return False

    def end_thaw(self, model: str, *, answered: bool) -> None:
        """The thaw call ended: answered, the key is thawed; abandoned, the next call
        becomes the thaw call."""
        if answered:
            self._thawing.pop(model, None)
        elif model in self._thawing:
            self._thawing[model] = False

    def snapshot(self, now: float) -> dict[str, list[Cooldown]]:
        """Every running cooldown, by model (for diagnostics and persistence)."""
        for model in list(self._by_model):
            self.active(model, now)
        return {model: list(running.values()) for model, running in self._by_model.items()}

    def clear(self) -> None:
        self._by_model.clear()
        self._thawing.clear()
