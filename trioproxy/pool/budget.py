"""Local quota budgets: skip a key *before* it earns a 429.

Per (key, model), from the first `limits` glob in keys.yaml that matches the model:
- rpm and tpm over a sliding 60 s window (Gemini does not document whether its minute is
  sliding or fixed; sliding never lets a burst straddle a boundary, so it is the safe one);
- rpd per Pacific calendar day, reset at midnight Pacific like Gemini's.

A request counts when it is sent (a 429 or 5xx may still have used quota upstream);
tokens (prompt tokens: Gemini's TPM counts input) count when the answer reports them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from trioproxy.config.model import LimitSpec
from trioproxy.pool.reset import PACIFIC, seconds_until_daily_reset

MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Spent:
    """Why a budget refuses, and when it will admit again."""

    limit: str  # "rpm", "tpm" or "rpd"
    until: float

    @property
    def per_day(self) -> bool:
        return self.limit == "rpd"


class Budget:
    __slots__ = ("_day", "_day_count", "_requests", "_token_sum", "_tokens", "limits")

    def __init__(self, limits: LimitSpec) -> None:
        self.limits = limits
        self._requests: deque[float] = deque()
        self._tokens: deque[tuple[float, int]] = deque()
        self._token_sum = 0
        self._day = ""
        self._day_count = 0

    def spent(self, now: float, wall: float) -> Spent | None:
        limits = self.limits
        if limits.rpd is not None and self._today(wall) >= limits.rpd:
            return Spent("rpd", now + seconds_until_daily_reset(wall))
        if limits.rpm is not None:
            self._expire(now)
            if len(self._requests) >= limits.rpm:
                return Spent("rpm", self._requests[len(self._requests) - limits.rpm] + MINUTE)
        if limits.tpm is not None:
            self._expire(now)
            if self._token_sum >= limits.tpm:
                return Spent("tpm", self._tokens_free_at())
        return None

    def record_request(self, now: float, wall: float) -> None:
        if self.limits.rpm is not None:
            self._requests.append(now)
        if self.limits.rpd is not None:
            self._today(wall)
            self._day_count += 1

    def record_tokens(self, tokens: int, now: float) -> None:
        if self.limits.tpm is not None and tokens > 0:
            self._tokens.append((now, tokens))
            self._token_sum += tokens

    def windows(self, now: float) -> tuple[list[float], list[tuple[float, int]], str, int]:
        """What persistence keeps: (request times, (time, tokens)), on the clock of `now`,
        and the Pacific day with its request count."""
        self._expire(now)
        return list(self._requests), list(self._tokens), self._day, self._day_count

    def load(
        self, requests: list[float], tokens: list[tuple[float, int]], day: str, count: int
    ) -> None:
        self._requests = deque(sorted(requests))
        self._tokens = deque(sorted(tokens))
        self._token_sum = sum(n for _, n in self._tokens)
        self._day, self._day_count = day, count

    def usage(self, now: float, wall: float) -> dict[str, int]:
        self._expire(now)
        return {"rpm": len(self._requests), "tpm": self._token_sum, "rpd": self._today(wall)}

    def _today(self, wall: float) -> int:
        day = datetime.fromtimestamp(wall, PACIFIC).date().isoformat()
        if day != self._day:
            self._day, self._day_count = day, 0
        return self._day_count

    def _expire(self, now: float) -> None:
        while self._requests and self._requests[0] + MINUTE <= now:
            self._requests.popleft()
        while self._tokens and self._tokens[0][0] + MINUTE <= now:
            self._token_sum -= self._tokens.popleft()[1]

    def _tokens_free_at(self) -> float:
        # The time enough old entries leave the window for the sum to drop below the limit.
        assert self.limits.tpm is not None
        remaining = self._token_sum
        for at, tokens in self._tokens:
            remaining -= tokens
            if remaining < self.limits.tpm:
                return at + MINUTE
        return self._tokens[-1][0] + MINUTE
