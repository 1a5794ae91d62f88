"""The credential pool: which key takes the next call, and what an outcome does to it.

Pure and synchronous: every decision takes `now` (the trio clock, seconds) and, for daily
quotas, `wall` (UNIX time) as arguments, so tests drive it in virtual time and the
dispatcher does all I/O around it.

Rules:
1. A key is usable for a model unless it is disabled, cooling for that model, over its
   local budget for that model, or its breaker is open (or half-open with the one trial
   already out). Each reason comes with the time it ends, when it has one.
2. A 429 cools (key, model) per quota dimension for Gemini's retryDelay; a daily quota
   until the next Pacific midnight. Keys declaring the same `project` share the cooldown,
   because Gemini's quotas belong to the project, not to the key.
3. 5xx, timeouts and connection errors feed the key's breaker and health; auth failures
   disable the key until a recovery probe (or an operator) clears it.
4. Priority tiers first (tier 0 before tier 1), then the upstreams of a tier in turn, then
   the upstream's policy inside it. Unhealthy keys and half-open trials are used only when
   no healthy key of the tier is usable.
"""

from __future__ import annotations

import random as _random
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field

from trioproxy.config.model import GatewaySettings, KeySpec
from trioproxy.pool.adoption import build_keys
from trioproxy.pool.blocks import Unavailable, first_block, iter_blocks, unavailable
from trioproxy.pool.breaker import BreakerPolicy, Event, State
from trioproxy.pool.outcome import (
    AuthFailure,
    ClientFault,
    Outcome,
    RateLimited,
    Success,
    Transient,
)
from trioproxy.pool.overrides import Override
from trioproxy.pool.quota import Cooldown, QuotaScope, cooled_dimensions, is_daily
from trioproxy.pool.reset import seconds_until_daily_reset
from trioproxy.pool.selection import Rank, Selector, make_selector
from trioproxy.pool.state import AUTH_PREFIX, KeyState

__all__ = ["KeyPool", "Pick", "Unavailable"]


@dataclass(slots=True)
class Pick:
    """One call lent to a key. Report its outcome, then release it (streams release when
    the relay ends, so `inflight` counts them for their whole life)."""

    key: KeyState
    model: str
    trial: bool = False  # the half-open breaker's one trial
    probe: bool = False  # a recovery probe, not a client's call
    # The first call on (quota, model) after its cooldown ended: its thaw token.
    thaw: float | None = None
    epoch: int = 0  # the breaker's epoch when lent: results from older epochs are stale
    reported: bool = False
    released: bool = False


@dataclass(slots=True)
class _Tier:
    groups: list[Selector] = field(default_factory=list)
    cursor: int = 0


class KeyPool:
    keys: list[KeyState]
    by_name: dict[str, KeyState]
    scopes: dict[str, QuotaScope]

    def __init__(
        self,
        keys: Iterable[KeySpec],
        *,
        settings: GatewaySettings | None = None,
        policies: Mapping[str, str] | None = None,
        random: Callable[[], float] = _random.random,
        previous: KeyPool | None = None,
        overrides: Mapping[str, Override] | None = None,
    ) -> None:
        self.settings = settings or GatewaySettings()
        policy = BreakerPolicy(
            self.settings.breaker_threshold,
            self.settings.breaker_backoff,
            self.settings.breaker_max_backoff,
        )
        # Keys whose state changed since the state writer last looked: a set, shared
        # with the pools before and after a reload, so marking a change is O(1), never
        # blocks, never drops, and is bounded by the number of keys.
        self.touched: set[KeyState] = previous.touched if previous is not None else set()
        self.keys, self.scopes = build_keys(
            keys,
            previous=(previous.by_name, previous.scopes) if previous is not None else None,
            overrides=overrides or {},
            breaker=policy,
            health_window=self.settings.health_window,
            random=random,
        )
        self.by_name = {key.name: key for key in self.keys}
        # Called after a change that may move the next recovery check (the prober listens).
        self.listeners: list[Callable[[], None]] = []
        # Grouped by the specs in use (overrides applied).
        groups: dict[int, dict[str, list[KeyState]]] = defaultdict(lambda: defaultdict(list))
        for key in self.keys:
            groups[key.spec.priority][key.spec.upstream].append(key)
        policies = policies or {}
        self._tiers: list[_Tier] = []
        for priority in sorted(groups):
            tier = _Tier()
            for upstream, members in groups[priority].items():
                selector = make_selector(policies.get(upstream, "round_robin"), members, random)
                tier.groups.append(selector)
                for key in members:
                    # Calls lent by an older pool are released through it; the key tells
                    # this pool's selector, whichever pool the call came from.
                    key.selector = selector
            self._tiers.append(tier)

    # Choosing.

    def choose(
        self,
        model: str,
        now: float,
        wall: float,
        *,
        exclude: Container[str] = (),
        on_skip: Callable[[str, str], None] | None = None,
    ) -> Pick | Unavailable:
        """A key for one call on `model`, or why there is none. `exclude`: names of keys
        this request already failed on; `on_skip(key, reason)` hears every key passed over."""

        def rank(key: KeyState) -> int | None:
            block = first_block(key, model, now, wall, exclude)
            if block is not None:
                if on_skip is not None:
                    on_skip(key.name, block.reason)
                return None
            if key.breaker.state is State.HALF_OPEN or key.health.unhealthy(now):
                return 1
            return 0

        key = self._select(rank)
        if key is None:
            return self.assess(model, now, wall, exclude=exclude)
        return self._lend(key, model, now, wall)

    def assess(
        self, model: str, now: float, wall: float, *, exclude: Container[str] = ()
    ) -> Unavailable:
        """Why no key can take a call on `model` (O(n): only on the way to an error)."""
        return unavailable(
            self.keys, now, lambda k: list(iter_blocks(k, model, now, wall, exclude))
        )

    def usable_count(self, model: str, now: float, wall: float) -> int:
        """How many keys could take a call on `model` now (O(n): for metrics)."""
        return sum(first_block(key, model, now, wall, ()) is None for key in self.keys)

    def _select(self, rank: Rank) -> KeyState | None:
        fallbacks: list[KeyState] = []

        def preferred(key: KeyState) -> int | None:
            grade = rank(key)
            if grade == 1:
                fallbacks.append(key)
            return 0 if grade == 0 else None

        for tier in self._tiers:
            # Healthy keys of every upstream of the tier first; then, only if there was
            # one, a last-resort key (unhealthy, or a half-open trial).
            fallbacks.clear()
            for grade in (preferred, rank):
                if grade is rank and not fallbacks:
                    break
                count = len(tier.groups)
                for offset in range(count):
                    index = (tier.cursor + offset) % count
                    key = tier.groups[index].pick(grade)
                    if key is not None:
                        tier.cursor = index + 1
                        return key
        return None

    def _lend(self, key: KeyState, model: str, now: float, wall: float) -> Pick:
        trial = key.breaker.on_trial
        if trial:
            key.breaker.fire(Event.TRIAL_START, now)
        self._load(key, +1)
        if model:
            # Counted when sent: an abandoned call may still have used quota upstream.
            key.usage.today(wall).requests += 1
            self.touched.add(key)
        budget = key.budget(model)
        if budget is not None:
            budget.record_request(now, wall)
        thaw = key.cooldowns.start_thaw(model, now)
        return Pick(key, model, trial=trial, thaw=thaw, epoch=key.breaker.epoch)

    # Probes.

    def claim_probes(self, now: float) -> list[Pick]:
        """Keys due for a recovery check, each lent as a probe (the breaker's one trial,
        or an auth re-check). The caller must report and release every pick."""
        picks = []
        for key in self.keys:
            if key.disabled is not None:
                if key.disabled_by_auth and key.auth_recheck_at <= now:
                    key.auth_recheck_at = now + self.settings.auth_recheck
                    self.touched.add(key)
                    picks.append(Pick(key, key.last_model or "", probe=True))
            elif key.breaker.admits(now) and key.breaker.state is State.HALF_OPEN:
                key.breaker.fire(Event.TRIAL_START, now)
                picks.append(
                    Pick(key, key.last_model or "", trial=True, probe=True, epoch=key.breaker.epoch)
                )
        for pick in picks:
            self._load(pick.key, +1)
        return picks

    def next_probe_at(self, now: float) -> float | None:
        """When the next recovery check falls due (None: nothing to check)."""
        due: float | None = None
        for key in self.keys:
            if key.disabled is not None:
                at = key.auth_recheck_at if key.disabled_by_auth else None
            elif key.breaker.state is State.OPEN:
                at = key.breaker.reopen_at
            elif key.breaker.state is State.HALF_OPEN and not key.breaker.trial_taken:
                at = now
            else:
                at = None
            if at is not None and (due is None or at < due):
                due = at
        return due

    # Outcomes.

    def report(self, pick: Pick, outcome: Outcome, *, now: float, wall: float) -> bool:
        """Apply a call's outcome; True if it changed the key's breaker state or disable."""
        key, model = pick.key, pick.model
        self.answered(pick)
        pick.reported = True
        self.touched.add(key)
        if model and not pick.probe:
            usage = key.usage.today(wall)
            if isinstance(outcome, RateLimited):
                usage.rate_limited += 1
            elif isinstance(outcome, Transient | AuthFailure):
                usage.failures += 1
        before = (key.breaker.state, key.disabled)
        # A call lent before the breaker last opened (or the key was disabled) answers
        # into a different epoch: it says nothing about the key as it is now.
        stale = pick.epoch != key.breaker.epoch
        if pick.probe:
            if not (pick.trial and stale):
                self._probe_result(key, outcome, now)
        elif not model and not isinstance(outcome, Transient | AuthFailure):
            # Listing or describing models proves what a probe proves, no more.
            if not stale:
                self._breaker(pick, Event.PROBE_OK, now)
        elif isinstance(outcome, Success):
            if not stale:
                key.health.record(True, now)
                self._breaker(pick, Event.SUCCESS, now)
        elif isinstance(outcome, RateLimited):
            self._cool(key, model, outcome, now, wall)
            if not stale:
                self._breaker(pick, Event.RESPONDED, now)
        elif isinstance(outcome, Transient):
            if not stale:
                if model:  # health is about serving a model (successes never come model-less)
                    key.health.record(False, now)
                    key.last_model = model
                self._breaker(pick, Event.FAILURE, now)
        elif isinstance(outcome, AuthFailure):
            key.health.record(False, now)
            key.last_model = model or key.last_model
            self._disable_for_auth(key, outcome, now)
        elif isinstance(outcome, ClientFault) and not stale:
            self._breaker(pick, Event.RESPONDED, now)
        changed = (key.breaker.state, key.disabled) != before
        if changed:
            self._changed()
        return changed

    def answered(self, pick: Pick) -> None:
        """The upstream has started answering this call (a stream's first chunk): it got
        past the quota check, so a thaw it was testing is over."""
        if pick.thaw is not None:
            pick.key.cooldowns.end_thaw(pick.model, pick.thaw, answered=True)
            pick.thaw = None

    def _breaker(self, pick: Pick, event: Event, now: float) -> None:
        pick.key.breaker.fire(event, now, trial=pick.trial)

    def _probe_result(self, key: KeyState, outcome: Outcome, now: float) -> None:
        """A recovery probe answered (GET models: no quota). Any answer from Gemini that
        is not an auth rejection or a failure means the key is accepted and reachable."""
        if isinstance(outcome, AuthFailure):
            self._disable_for_auth(key, outcome, now)
        elif isinstance(outcome, Transient):
            if key.disabled is None:
                key.breaker.fire(Event.FAILURE, now)
        elif key.disabled is not None:
            if not key.disabled_by_auth:
                return  # an operator's disable: only the operator lifts it
            # An auth re-check passed: the key starts over.
            key.disabled = None
            key.breaker.reset()
            key.health.clear()
        else:
            key.breaker.fire(Event.PROBE_OK, now)
            # Old failures are what opened the breaker; they must not keep the key
            # demoted now that it is back.
            key.health.clear()

    def _disable_for_auth(self, key: KeyState, outcome: AuthFailure, now: float) -> None:
        if key.disabled is not None and not key.disabled_by_auth:
            return  # an operator's disable outranks what Gemini says; it stays theirs
        key.disabled = AUTH_PREFIX + outcome.reason
        key.auth_recheck_at = now + self.settings.auth_recheck
        # Whatever the breaker was doing (even a trial in flight) no longer matters; a key
        # that comes back starts closed, and nothing lent before counts.
        key.breaker.retire()

    def record_tokens(
        self, pick: Pick, prompt: int, completion: int, *, now: float, wall: float
    ) -> None:
        """Tokens an answer reported: into the key's usage, and (prompt tokens: Gemini's
        TPM counts input) into its local budget."""
        key = pick.key
        usage = key.usage.today(wall)
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        self.touched.add(key)
        budget = key.budget(pick.model)
        if budget is not None:
            budget.record_tokens(prompt, now)

    def release(self, pick: Pick, now: float) -> None:
        """The call is over. A trial that ended without a result frees the trial."""
        if pick.released:
            return
        pick.released = True
        key = pick.key
        self._load(key, -1)
        if pick.thaw is not None:
            key.cooldowns.end_thaw(pick.model, pick.thaw, answered=False)
        if pick.trial and not pick.reported and pick.epoch == key.breaker.epoch:
            key.breaker.fire(Event.TRIAL_ABANDONED, now)
            self.touched.add(key)
            self._changed()

    def _cool(
        self, key: KeyState, model: str, outcome: RateLimited, now: float, wall: float
    ) -> None:
        delay = outcome.retry_after
        if delay is None:
            delay = self.settings.default_cooldown
        for dimension in cooled_dimensions(outcome.quota_ids, outcome.per_day):
            until = now + delay
            if is_daily(dimension):
                until = max(until, now + seconds_until_daily_reset(wall))
            # The key's quota scope: every key of its project cools with it.
            key.cooldowns.add(model, Cooldown(until, dimension, outcome.quota_ids, key.name))

    def _load(self, key: KeyState, delta: int) -> None:
        before = key.inflight
        key.inflight += delta
        if key.selector is not None:
            key.selector.load_changed(key, before)

    def changed(self, key: KeyState) -> None:
        """An operator changed the key (admin API): persist it, and wake the prober."""
        self.touched.add(key)
        self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()
