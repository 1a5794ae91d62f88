"""Selection policies: which usable key of a group takes the next call.

A policy never judges a key itself; it asks `rank(key)`:
    0     usable, preferred
    1     usable only if no rank-0 key is (unhealthy, or a half-open trial)
    None  not usable now (cooling, open, disabled, budget spent, already tried)
so every policy skips the same keys for the same reasons, and a policy is only about
spreading load.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

from trioproxy.pool.state import KeyState

Rank = Callable[[KeyState], int | None]
# Weighted picks drawn at random before falling back to a scan (many keys unusable).
_DRAWS = 8


class Selector(Protocol):
    def pick(self, rank: Rank) -> KeyState | None: ...


class RoundRobin:
    """Each key in turn. O(1) per pick while keys are usable; unusable ones are skipped."""

    def __init__(self, keys: Sequence[KeyState]) -> None:
        self.keys = list(keys)
        self._cursor = 0

    def pick(self, rank: Rank) -> KeyState | None:
        count = len(self.keys)
        fallback: int | None = None
        for offset in range(count):
            index = (self._cursor + offset) % count
            grade = rank(self.keys[index])
            if grade == 0:
                self._cursor = index + 1
                return self.keys[index]
            if grade == 1 and fallback is None:
                fallback = index
        if fallback is None:
            return None
        self._cursor = fallback + 1
        return self.keys[fallback]


class Weighted:
    """Keys drawn in proportion to their `weight`: O(log n) per draw (bisect over the
    cumulative weights). When draws keep hitting unusable keys, a scan picks among the
    usable ones, still by weight."""

    def __init__(self, keys: Sequence[KeyState], random: Callable[[], float]) -> None:
        self.keys = list(keys)
        self.random = random
        self._cumulative = list(itertools.accumulate(key.spec.weight for key in self.keys))

    def pick(self, rank: Rank) -> KeyState | None:
        total = self._cumulative[-1]
        for _ in range(_DRAWS):
            key = self.keys[self._index(self.random() * total)]
            if rank(key) == 0:
                return key
        grades = [(key, rank(key)) for key in self.keys]
        for wanted in (0, 1):
            usable = [key for key, grade in grades if grade == wanted]
            if usable:
                weights = list(itertools.accumulate(key.spec.weight for key in usable))
                point = self.random() * weights[-1]
                return usable[min(bisect.bisect_right(weights, point), len(usable) - 1)]
        return None

    def _index(self, point: float) -> int:
        return min(bisect.bisect_right(self._cumulative, point), len(self.keys) - 1)


class LeastInflight:
    """The key with the fewest calls in flight (streams count until they end); ties go
    round robin. O(n) per pick: it has to look at every key's load."""

    def __init__(self, keys: Sequence[KeyState]) -> None:
        self.keys = list(keys)
        self._cursor = 0

    def pick(self, rank: Rank) -> KeyState | None:
        count = len(self.keys)
        best: tuple[int, int, int] | None = None
        for offset in range(count):
            index = (self._cursor + offset) % count
            key = self.keys[index]
            grade = rank(key)
            if grade is None:
                continue
            candidate = (grade, key.inflight, index)
            if best is None or candidate[:2] < best[:2]:
                best = candidate
        if best is None:
            return None
        self._cursor = best[2] + 1
        return self.keys[best[2]]


def make_selector(policy: str, keys: Sequence[KeyState], random: Callable[[], float]) -> Selector:
    if policy == "weighted":
        return Weighted(keys, random)
    if policy == "least_inflight":
        return LeastInflight(keys)
    return RoundRobin(keys)
