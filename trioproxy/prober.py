"""The health prober: brings failing keys back with quota-free calls.

A long-lived service. It sleeps until the pool says a key is due for a recovery check (a
breaker's backoff ended, or an auth-disabled key's re-check time came), or until the pool
changes (a breaker opened; a trial was abandoned), so it wakes exactly when needed and
never polls. Each check is `GET models/{model}` with that key (or `GET models` when no
model is known): Gemini spends no quota on it, so probing never burns a daily budget.
The result feeds the breaker as its one half-open trial.

What a probe proves: the key is accepted and the service answers. It cannot prove the
model serves again, so a passed probe puts the key on probation: the first live failure
re-opens the breaker with a longer backoff, and only a successful generation closes it.
"""

from __future__ import annotations

import logging
import math

import httpx
import trio

from trioproxy import logs
from trioproxy.dispatch import AttemptFailed
from trioproxy.gateway import Gateway
from trioproxy.pool import Outcome, Pick, Success, Transient

# Guard against a pool that keeps saying "due now" without handing out a probe.
_MIN_GAP = 0.05


class HealthProber:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.probes = 0
        self._wake = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """A supervisor service: runs until cancelled, probes included."""
        self.gateway.pool.listeners.append(self._changed)
        try:
            task_status.started()
            async with trio.open_nursery() as nursery:
                await self._loop(nursery)
        finally:
            self.gateway.pool.listeners.remove(self._changed)

    def follow(self, gateway: Gateway) -> None:
        """A reload swapped the gateway: watch its pool from now on. Probes already out
        report to the gateway that lent them (the key state is the same object)."""
        old = self.gateway
        if self._changed in old.pool.listeners:
            old.pool.listeners.remove(self._changed)
            gateway.pool.listeners.append(self._changed)
        self.gateway = gateway
        self._wake.set()

    def _changed(self) -> None:
        self._wake.set()

    async def _loop(self, nursery: trio.Nursery) -> None:
        while True:
            pool = self.gateway.pool
            now = trio.current_time()
            for pick in pool.claim_probes(now):
                nursery.start_soon(self._probe, pick)
            due = pool.next_probe_at(now)
            wake_at = math.inf if due is None else max(due, now + _MIN_GAP)
            with trio.move_on_at(wake_at):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _probe(self, pick: Pick) -> None:
        self.probes += 1
        gateway = self.gateway
        key = pick.key
        try:
            outcome = await self._check(pick)
            gateway.dispatcher.report(pick, outcome)
        finally:
            # Unreported (cancelled at shutdown): the trial is freed, not decided.
            gateway.dispatcher.release(pick)
        logs.event(
            "recovery probe",
            logging.INFO if isinstance(outcome, Success) else logging.WARNING,
            key=key.name,
            model=pick.model or None,
            outcome=type(outcome).__name__,
            breaker=key.breaker.state.value,
            disabled=key.disabled,
        )

    async def _check(self, pick: Pick) -> Outcome:
        gateway = self.gateway
        secret = pick.key.spec.secret
        try:
            api = gateway.api_for(pick.key)
            if pick.model:
                request = api.get_model(gateway.http, pick.model, secret)
            else:
                request = api.list_models(gateway.http, secret, None)
            with trio.fail_after(gateway.config.gateway.probe_timeout):
                await gateway.dispatcher.fetch_json(request, secret)
        except AttemptFailed as failed:
            return failed.failure.outcome
        except trio.TooSlowError:
            return Transient("probe timed out")
        except httpx.RequestError as error:
            return Transient(f"probe connection failed: {type(error).__name__}")
        except Exception as error:
            # A bug of ours or a baffling answer: it must not take the prober down.
            logs.EVENTS.warning(
                "recovery probe failed unexpectedly",
                exc_info=True,
                extra={"fields": {"key": pick.key.name}},
            )
            return Transient(f"probe failed: {type(error).__name__}")
        return Success()
