"""Per-key usage counters for the current Pacific day (the day Gemini's daily quotas
use), kept for operators and persisted by the state writer."""

from __future__ import annotations

from datetime import datetime

from trioproxy.pool.reset import PACIFIC


def pacific_day(wall: float) -> str:
    return datetime.fromtimestamp(wall, PACIFIC).date().isoformat()


def _day_bounds(wall: float) -> tuple[str, float, float]:
    """(the Pacific day of `wall`, its first instant, the next day's), DST-correct."""
    local = datetime.fromtimestamp(wall, PACIFIC)
    start = datetime(local.year, local.month, local.day, tzinfo=PACIFIC).timestamp()
    # 25 h lands in the next day even across the DST switch; its midnight ends this one.
    following = datetime.fromtimestamp(start + 25 * 3600, PACIFIC)
    end = datetime(following.year, following.month, following.day, tzinfo=PACIFIC).timestamp()
    return local.date().isoformat(), start, end


class KeyUsage:
    __slots__ = (
        "_end",
        "_start",
        "completion_tokens",
        "day",
        "failures",
        "prompt_tokens",
        "rate_limited",
        "requests",
    )

    def __init__(self) -> None:
        self.day = ""
        self._start = self._end = 0.0
        self.requests = self.failures = self.rate_limited = 0
        self.prompt_tokens = self.completion_tokens = 0

    def today(self, wall: float) -> KeyUsage:
        """These counters, started afresh if the Pacific day turned since. On the request
        path: a comparison unless the day changed."""
        if not self._start <= wall < self._end:
            day, self._start, self._end = _day_bounds(wall)
            if day != self.day:
                self.day = day
                self.requests = self.failures = self.rate_limited = 0
                self.prompt_tokens = self.completion_tokens = 0
        return self
