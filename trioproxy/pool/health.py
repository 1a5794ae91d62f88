"""A key's health score: its success ratio over a sliding, time-bounded window.

The window is split into buckets so that recording and reading are O(1) amortised and old
samples leave by themselves: a key that failed a while ago is not held against forever.
Only calls that say something about the key count: successes, and failures (5xx,
timeouts, connection errors, auth). 429s and the client's own bad requests do not.
"""

from __future__ import annotations

from collections import deque

BUCKETS = 10
# Below this many samples in the window the score is not trusted for demotion.
MIN_SAMPLES = 5
UNHEALTHY_BELOW = 0.5


class HealthWindow:
    __slots__ = ("_buckets", "_failures", "_span", "_successes", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self._span = window / BUCKETS
        # (bucket index, successes, failures), oldest first.
        self._buckets: deque[list[int]] = deque()
        self._successes = 0
        self._failures = 0

    def record(self, ok: bool, now: float) -> None:
        index = int(now // self._span)
        self._expire(index)
        if not self._buckets or self._buckets[-1][0] != index:
            self._buckets.append([index, 0, 0])
        bucket = self._buckets[-1]
        if ok:
            bucket[1] += 1
            self._successes += 1
        else:
            bucket[2] += 1
            self._failures += 1

    def buckets(self, now: float) -> list[tuple[float, int, int]]:
        """(bucket start, successes, failures), oldest first, on the clock of `now`."""
        self._expire(int(now // self._span))
        return [(index * self._span, ok, failed) for index, ok, failed in self._buckets]

    def load(self, buckets: list[tuple[float, int, int]], now: float) -> None:
        """Replace the window with saved buckets (starts on the clock of `now`)."""
        self.clear()
        for start, ok, failed in sorted(buckets):
            index = int(start // self._span)
            if self._buckets and self._buckets[-1][0] == index:
                self._buckets[-1][1] += ok
                self._buckets[-1][2] += failed
            else:
                self._buckets.append([index, ok, failed])
            self._successes += ok
            self._failures += failed
        self._expire(int(now // self._span))

    def clear(self) -> None:
        self._buckets.clear()
        self._successes = self._failures = 0

    def counts(self, now: float) -> tuple[int, int]:
        """(successes, failures) inside the window ending at `now`."""
        self._expire(int(now // self._span))
        return self._successes, self._failures

    def score(self, now: float) -> float:
        """Success ratio in [0, 1]; 1.0 with no samples (innocent until proven failing)."""
        successes, failures = self.counts(now)
        total = successes + failures
        return successes / total if total else 1.0

    def unhealthy(self, now: float) -> bool:
        successes, failures = self.counts(now)
        total = successes + failures
        return total >= MIN_SAMPLES and successes / total < UNHEALTHY_BELOW

    def _expire(self, index: int) -> None:
        oldest = index - BUCKETS + 1
        while self._buckets and self._buckets[0][0] < oldest:
            _, successes, failures = self._buckets.popleft()
            self._successes -= successes
            self._failures -= failures
