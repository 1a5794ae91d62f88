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

    def load_changed(self, key: KeyState, before: int) -> None:
        """`key.inflight` changed from `before` (only least_inflight cares)."""


class RoundRobin:
    """Each key in turn. O(1) per pick while keys are usable; unusable ones are skipped."""

    def __init__(self, keys: Sequence[KeyState]) -> None:
        self.keys = list(keys)
        self._cursor = 0

    def load_changed(self, key: KeyState, before: int) -> None:
        pass

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

    def load_changed(self, key: KeyState, before: int) -> None:
        pass

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
    """The key with the fewest calls in flight (streams count until they end).

    Keys sit in buckets by their in-flight count, so a pick looks at the least loaded
    keys first and stops at the first usable one: O(1) while the least loaded keys are
    usable, whatever the pool size. A key that gets a call moves to the back of the next
    bucket, so equally loaded keys take turns.
    """

    def __init__(self, keys: Sequence[KeyState]) -> None:
        self.keys = list(keys)
        # bucket i: the keys with i calls in flight, in turn order (dicts keep order).
        self._buckets: list[dict[KeyState, None]] = [{}]
        for key in self.keys:
            self._place(key)

    def load_changed(self, key: KeyState, before: int) -> None:
        if before < len(self._buckets):
            self._buckets[before].pop(key, None)
        self._place(key)

    def _place(self, key: KeyState) -> None:
        while len(self._buckets) <= key.inflight:
            self._buckets.append({})
        self._buckets[key.inflight][key] = None

    def pick(self, rank: Rank) -> KeyState | None:
        fallback: KeyState | None = None
        for bucket in self._buckets:
            for key in bucket:
                grade = rank(key)
                if grade == 0:
                    return key
                if grade == 1 and fallback is None:
                    fallback = key
        return fallback


def make_selector(policy: str, keys: Sequence[KeyState], random: Callable[[], float]) -> Selector:
    if policy == "weighted":
        return Weighted(keys, random)
    if policy == "least_inflight":
        return LeastInflight(keys)
    return RoundRobin(keys)
