"""The load generator behind `trioproxy bench` and `benchmarks/latency.py`.

Two ways to apply load:
- closed loop (`run_closed`): `concurrency` workers, each sending its next request when
  the last one answered. Measures what a fixed number of clients get.
- open loop (`run_open`): requests start on a fixed schedule (`rate` per second) whether
  or not earlier ones have answered, the way independent clients arrive. Latency is
  measured from the *scheduled* start, so a gateway that falls behind is charged for the
  queueing it causes (no coordinated omission).

Each request is timed to its last byte, and, for streams, to its first body byte (time to
first token). A request that fails (connection error, timeout, a non-2xx status) is
counted by status, never dropped from the results.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

Target = Callable[[], httpx.Request]


@dataclass(frozen=True, slots=True)
class Sample:
    status: int  # 0: no response (connection error, timeout)
    seconds: float  # to the last byte
    first_byte: float | None = None  # to the first body byte (streams)
    error: str | None = None  # no response: the exception's name (ConnectError, ...)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(slots=True)
class Summary:
    requests: int
    elapsed: float
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    first_byte_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "elapsed_s": round(self.elapsed, 3),
            "rate": round(self.rate, 1),
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "first_byte_ms": self.first_byte_ms,
        }


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (which need not be sorted)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def percentiles_ms(values: list[float]) -> dict[str, float]:
    return {
        name: round(percentile(values, fraction) * 1000, 3)
        for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    }


def summarize(samples: list[Sample], elapsed: float) -> Summary:
    errors = Counter(str(s.status or s.error) for s in samples if not s.ok)
    firsts = [s.first_byte for s in samples if s.ok and s.first_byte is not None]
    return Summary(
        requests=len(samples),
        elapsed=elapsed,
        errors=dict(errors),
        latency_ms=percentiles_ms([s.seconds for s in samples if s.ok]),
        first_byte_ms=percentiles_ms(firsts) if firsts else {},
    )


async def send(client: httpx.AsyncClient, request: httpx.Request, start: float) -> Sample:
    """One request, timed from `start` (a perf_counter reading)."""
    first: float | None = None
    try:
        response = await client.send(request, stream=True)
        try:
            async for _ in response.aiter_bytes():
                if first is None:
                    first = time.perf_counter() - start
        finally:
            await response.aclose()
    except httpx.HTTPError as error:
        return Sample(0, time.perf_counter() - start, error=type(error).__name__)
    return Sample(response.status_code, time.perf_counter() - start, first)


async def run_closed(
    client: httpx.AsyncClient, target: Target, *, requests: int, concurrency: int
) -> Summary:
    samples: list[Sample] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            samples.append(await send(client, target(), time.perf_counter()))

    began = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, requests)):
            nursery.start_soon(worker)
    return summarize(samples, time.perf_counter() - began)


async def run_open(
    client: httpx.AsyncClient, target: Target, *, rate: float, requests: int
) -> Summary:
    samples: list[Sample] = []
    began = time.perf_counter()
    trio_began = trio.current_time()

    async def one(scheduled: float) -> None:
        samples.append(await send(client, target(), scheduled))

    async with trio.open_nursery() as nursery:
        for index in range(requests):
            await trio.sleep_until(trio_began + index / rate)
            nursery.start_soon(one, began + index / rate)
    return summarize(samples, time.perf_counter() - began)
