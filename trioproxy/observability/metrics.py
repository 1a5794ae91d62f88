"""Prometheus metrics: what the request path counts as it goes.

Each app has its own registry (tests and embedders run several apps in one process).
Label values are bounded: `route` is one of the gateway's routes, `status` an HTTP status,
`key` a key *name* from keys.yaml (never a secret), `model` one of the first
`MAX_MODELS` model ids served successfully (others are `other`: a client cannot grow the
series, or use up the slots, by inventing model names), and no label is per request or
per client.

State that exists anyway (per-key breaker, cooldowns, health; reloads; the store) is
not counted here but read at scrape time by trioproxy.observability.collector, so the
request path pays nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from trioproxy.pool import AuthFailure, ClientFault, Outcome, Pick, RateLimited, Success
from trioproxy.pool.quota import cooled_dimensions

MAX_MODELS = 50
# Overhead is what the gateway adds: sub-millisecond buckets are where it should live.
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True, slots=True)
class RouteMetrics:
    """A route's labelled children, looked up once (`labels()` costs a lock and a tuple
    build per call: on every request it showed in the profile)."""

    duration: Any
    upstream: Any
    overhead: Any
    retries: Any


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "trioproxy_requests",
            "Requests answered, by route, model and HTTP status.",
            ["route", "model", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "trioproxy_request_duration_seconds",
            "Time to the response head (streams: to the first chunk), by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "trioproxy_upstream_duration_seconds",
            "Time spent waiting on Gemini within a request (all attempts), by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead_seconds = Histogram(
            "trioproxy_overhead_seconds",
            "What the gateway itself added to a request: its duration minus upstream time.",
            ["route"],
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.first_token_seconds = Histogram(
            "trioproxy_time_to_first_token_seconds",
            "Streams: time from the request to the first chunk sent to the client.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "trioproxy_requests_in_flight", "Requests being handled now.", registry=r
        )
        self.retries = Counter(
            "trioproxy_retries",
            "Attempts beyond the first (a request moved to another key), by route.",
            ["route"],
            registry=r,
        )
        self.key_outcomes = Counter(
            "trioproxy_key_outcomes",
            "Upstream call outcomes per key: success, rate_limited, failure, auth_failure, "
            "rejected.",
            ["key", "outcome"],
            registry=r,
        )
        self.key_rate_limits = Counter(
            "trioproxy_key_rate_limited",
            "429s per key by quota dimension (requests/tokens per minute/day, unspecified).",
            ["key", "dimension"],
            registry=r,
        )
        self.key_tokens = Counter(
            "trioproxy_key_tokens",
            "Tokens used per key: prompt, completion and reasoning (part of completion).",
            ["key", "kind"],
            registry=r,
        )
        self._models: set[str] = set()
        self._routes: dict[str, RouteMetrics] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}

    def route(self, route: str) -> RouteMetrics:
        found = self._routes.get(route)
        if found is None:
            found = self._routes[route] = RouteMetrics(
                self.request_seconds.labels(route),
                self.upstream_seconds.labels(route),
                self.overhead_seconds.labels(route),
                self.retries.labels(route),
            )
        return found

    def request(self, route: str, model: str, status: int, seconds: float) -> None:
        """One answered request: counted, and its duration observed."""
        key = (route, model, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self.requests.labels(route, model, str(status))
        counter.inc()
        self.route(route).duration.observe(seconds)

    def model_label(self, model: str | None, *, served: bool) -> str:
        """The label for `model`. Only a model that was served claims one of the slots,
        so clients sending bogus names cannot use them all up."""
        if not model:
            return ""
        if model in self._models:
            return model
        if served and len(self._models) < MAX_MODELS:
            self._models.add(model)
            return model
        return "other"

    def outcome(self, pick: Pick, outcome: Outcome) -> None:
        """An upstream call's outcome (probes included: they are calls on the key too)."""
        name = pick.key.name
        if isinstance(outcome, Success):
            kind = "success"
        elif isinstance(outcome, RateLimited):
            kind = "rate_limited"
            for dimension in cooled_dimensions(outcome.quota_ids, outcome.per_day):
                self.key_rate_limits.labels(name, dimension).inc()
        elif isinstance(outcome, AuthFailure):
            kind = "auth_failure"
        elif isinstance(outcome, ClientFault):
            kind = "rejected"
        else:
            kind = "failure"
        self.key_outcomes.labels(name, kind).inc()

    def tokens(self, pick: Pick, prompt: int, completion: int, reasoning: int) -> None:
        name = pick.key.name
        for kind, count in (
            ("prompt", prompt),
            ("completion", completion),
            ("reasoning", reasoning),
        ):
            if count > 0:
                self.key_tokens.labels(name, kind).inc(count)
