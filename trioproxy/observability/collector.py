"""Metrics read at scrape time from state the gateway keeps anyway: the pool's keys,
reloads, the state store, the services, the log queue. The request path pays nothing for
them. A scrape walks the keys once on the event loop (O(n) in the pool size; the series
are few per key), and the text is rendered in a worker thread (trioproxy.routes.observe).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import trio
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trioproxy.events import EventLog
from trioproxy.pool import KeyPool
from trioproxy.pool.status import key_state
from trioproxy.reload import ReloadStatus
from trioproxy.state.store import StoreStatus


@dataclass(slots=True)
class Sources:
    pool: Callable[[], KeyPool]
    reloads: Callable[[], ReloadStatus]
    store: Callable[[], StoreStatus | None]
    crashes: Callable[[], dict[str, int]]
    logs_dropped: Callable[[], int]
    events: Callable[[], EventLog | None] = lambda: None
    wall: Callable[[], float] = time.time


class GatewayCollector(Collector):
    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        yield from self._keys()
        yield from self._operations()

    def _keys(self) -> Iterator[Metric]:
        pool = self.sources.pool()
        now, wall = trio.current_time(), self.sources.wall()
        state = GaugeMetricFamily(
            "trioproxy_key_state",
            "1, labelled with the key's current state (closed, open, half_open, probation, "
            "cooling, disabled); cooling: closed, with a cooldown running on some model.",
            labels=["key", "state"],
        )
        cooldown = GaugeMetricFamily(
            "trioproxy_key_cooldown_seconds",
            "Seconds until the key's cooldown for the model ends.",
            labels=["key", "model"],
        )
        health = GaugeMetricFamily(
            "trioproxy_key_health_score",
            "The key's success ratio over the health window (1 with no samples).",
            labels=["key"],
        )
        in_flight = GaugeMetricFamily(
            "trioproxy_key_in_flight", "Calls in flight on the key (streams count).", labels=["key"]
        )
        usable = GaugeMetricFamily(
            "trioproxy_usable_keys",
            "Keys that could take a call on the model now (models with a cooldown, and all).",
            labels=["model"],
        )
        models: set[str] = set()
        usable_any = 0
        for key in pool.keys:
            current = key_state(key, now)
            # One series per key (its current state), not one per possible state: a
            # scrape of a large pool stays small.
            state.add_metric([key.name, current], 1.0)
            for model, running in key.cooldowns.snapshot(now).items():
                models.add(model)
                until = max(c.until for c in running)
                cooldown.add_metric([key.name, model], max(0.0, until - now))
            health.add_metric([key.name], key.health.score(now))
            in_flight.add_metric([key.name], key.inflight)
            usable_any += current not in ("open", "disabled")
        usable.add_metric(["*"], usable_any)
        for model in sorted(models):
            usable.add_metric([model], pool.usable_count(model, now, wall))
        yield from (state, cooldown, health, in_flight, usable)

    def _operations(self) -> Iterator[Metric]:
        reloads = CounterMetricFamily(
            "trioproxy_config_reloads",
            "Reloads of keys.yaml by outcome (applied, failed; unchanged saves not counted).",
            labels=["outcome"],
        )
        counts = self.sources.reloads().counts
        for outcome in ("applied", "failed"):
            reloads.add_metric([outcome], counts[outcome])
        yield reloads
        store = self.sources.store()
        if store is not None:
            yield CounterMetricFamily(
                "trioproxy_state_writes", "Batches of state persisted.", value=store.writes
            )
            yield CounterMetricFamily(
                "trioproxy_state_write_failures",
                "State store operations that failed.",
                value=store.write_failures,
            )
            yield GaugeMetricFamily(
                "trioproxy_state_store_degraded",
                "1 when state is not kept in SQLite (JSON fallback or memory only).",
                value=1.0 if store.degraded else 0.0,
            )
        crashes = CounterMetricFamily(
            "trioproxy_service_crashes",
            "Background service crashes (each followed by a restart).",
            labels=["service"],
        )
        for service, count in sorted(self.sources.crashes().items()):
            crashes.add_metric([service], count)
        yield crashes
        events = self.sources.events()
        if events is not None:
            yield CounterMetricFamily(
                "trioproxy_usage_events_written", "Usage events written.", value=events.written
            )
            yield CounterMetricFamily(
                "trioproxy_usage_events_dropped",
                "Usage events dropped: the writer fell behind (requests are never slowed).",
                value=events.dropped,
            )
            yield CounterMetricFamily(
                "trioproxy_usage_events_failed",
                "Usage events lost to write errors.",
                value=events.write_failures,
            )
        yield CounterMetricFamily(
            "trioproxy_log_records_dropped",
            "Log records dropped because the log writer fell behind (never blocks requests).",
            value=self.sources.logs_dropped(),
        )
