"""Genuine per-project, per-model RPM and RPD buckets that produce real 429s.

Quota is per Google Cloud project, not per key: keys mapped to the same project share buckets.
RPM is a sliding 60 s window on `trio.current_time()` (so virtual clocks work); RPD counts per
calendar day in America/Los_Angeles on an injectable wall clock, resetting at midnight Pacific.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

import trio

from . import errors

PACIFIC = ZoneInfo("America/Los_Angeles")
Limit = int | Mapping[str, int] | None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _limit_for(limit: Limit, model: str) -> int | None:
    if limit is None or isinstance(limit, int):
        return limit
    return limit.get(model, limit.get("*"))


def _duration(seconds: float) -> str:
    text = f"{max(seconds, 0.0):.6f}".rstrip("0").rstrip(".")
    return f"{text}s"


class QuotaTracker:
    def __init__(
        self,
        *,
        rpm: Limit = None,
        rpd: Limit = None,
        projects: Mapping[str, str] | None = None,
        wall_clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.rpm = rpm
        self.rpd = rpd
        self.projects = dict(projects or {})
        self.wall_clock = wall_clock
        self._minute: dict[tuple[str, str], deque[float]] = {}
        self._day: dict[tuple[str, str, dt.date], int] = {}

    @property
    def enabled(self) -> bool:
        return self.rpm is not None or self.rpd is not None

    def reset(self) -> None:
        self._minute.clear()
        self._day.clear()

    def project_of(self, key: str) -> str:
        return self.projects.get(key, key)

    def admit(self, key: str, model: str) -> None:
        """Count one request, or raise the 429 the service would send instead."""
        project = self.project_of(key)
        now = trio.current_time()
        window = self._minute.setdefault((project, model), deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        wall = self.wall_clock().astimezone(PACIFIC)
        day_key = (project, model, wall.date())
        rpd = _limit_for(self.rpd, model)
        if rpd is not None and self._day.get(day_key, 0) >= rpd:
            midnight = dt.datetime.combine(wall.date() + dt.timedelta(days=1), dt.time(), PACIFIC)
            # The service still answers with a short RetryInfo for daily quota; callers must
            # read the quotaId to know the wait is really until midnight Pacific.
            wait = min((midnight - wall).total_seconds(), 60.0)
            raise errors.rate_limited(
                model,
                quota_id=errors.QUOTA_ID_DAY,
                retry_delay=_duration(math.ceil(wait * 1000) / 1000),
                quota_value=str(rpd),
            )
        rpm = _limit_for(self.rpm, model)
        if rpm is not None and len(window) >= rpm:
            raise errors.rate_limited(
                model,
                quota_id=errors.QUOTA_ID_MINUTE,
                retry_delay=_duration(window[0] + 60.0 - now),
                quota_value=str(rpm),
            )
        window.append(now)
        self._day[day_key] = self._day.get(day_key, 0) + 1
