"""Rolling windows for the client rate limits, O(1) memory per limit.

A window of `span` seconds is cut into `SLOTS` slots; each slot holds a count. A count
is forgotten one whole slot *after* the span has passed, never before, so the limit holds
over every window of `span` seconds (never more than `limit` requests in any minute),
at the price of a wait up to one slot (1/60 of the span) longer than strictly needed.
Time is the trio clock, passed in: the tests drive it with MockClock.
"""

from __future__ import annotations

import math
from collections import deque

SLOTS = 60


class RollingWindow:
    __slots__ = ("_counts", "_slot", "_total")

    def __init__(self, span: float) -> None:
        self._slot = span / SLOTS
        self._counts: deque[list[int]] = deque()  # [slot index, count], oldest first
        self._total = 0

    def total(self, now: float) -> int:
        self._forget(self._index(now))
        return self._total

    def add(self, now: float, amount: int = 1) -> None:
        if amount <= 0:
            return
        index = self._index(now)
        self._forget(index)
        if self._counts and self._counts[-1][0] == index:
            self._counts[-1][1] += amount
        else:
            self._counts.append([index, amount])
        self._total += amount

    def wait(self, now: float, limit: int) -> float | None:
        """None while the total is under `limit`; else the seconds until it will be."""
        index = self._index(now)
        self._forget(index)
        excess = self._total - limit + 1
        if excess <= 0:
            return None
        for slot, count in self._counts:
            excess -= count
            if excess <= 0:
                return max(0.0, self._expiry(slot) - now)
        raise AssertionError("the counts add up to the total")  # pragma: no cover

    def _index(self, now: float) -> int:
        return math.floor(now / self._slot)

    def _expiry(self, slot: int) -> float:
        # Kept for SLOTS + 1 slots: see the module docstring.
        return (slot + SLOTS + 1) * self._slot

    def _forget(self, index: int) -> None:
        counts = self._counts
        while counts and counts[0][0] <= index - SLOTS - 1:
            self._total -= counts.popleft()[1]
