"""When Gemini's per-day quotas reset: midnight in America/Los_Angeles, DST included."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


def seconds_until_daily_reset(wall_time: float) -> float:
    """Seconds from the UNIX time `wall_time` to the next midnight, Pacific time.

    Computed on local dates, not by adding 86400 s, so the 23- and 25-hour days of the DST
    switches land on the real midnight.
    """
    now = datetime.fromtimestamp(wall_time, PACIFIC)
    tomorrow = (now + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC)
    return midnight.timestamp() - wall_time
