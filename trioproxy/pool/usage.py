"""Per-key usage counters for the current Pacific day (the day Gemini's daily quotas
use), kept for operators and persisted by the state writer."""

from __future__ import annotations

from datetime import datetime

from trioproxy.pool.reset import PACIFIC


def pacific_day(wall: float) -> str:
    return datetime.fromtimestamp(wall, PACIFIC).date().isoformat()


class KeyUsage:
    __slots__ = (
        "completion_tokens",
        "day",
        "failures",
        "prompt_tokens",
        "rate_limited",
        "requests",
    )

    def __init__(self, day: str = "") -> None:
        self.day = day
        self.requests = self.failures = self.rate_limited = 0
        self.prompt_tokens = self.completion_tokens = 0

    def today(self, wall: float) -> KeyUsage:
        """These counters, started afresh if the Pacific day turned since."""
        day = pacific_day(wall)
        if day != self.day:
            self.__init__(day)  # type: ignore[misc]
        return self
