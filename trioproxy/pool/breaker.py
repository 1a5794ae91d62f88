"""The per-key circuit breaker, as an explicit transition table (TRANSITIONS below).

               failure (n-th in a row)              backoff elapsed
    CLOSED  -------------------------->  OPEN  ---------------------->  HALF_OPEN
      ^   ^                             ^    ^                            |    |
      |   |  trial success              |    |   trial failure            |    |
      |   +-----------------------------+----+----------------------------+    |
      |                                 |                     probe passed, or | trial responded
      |   live success                  |  live failure (the first)            v
      +-------------------------------- PROBATION  <---------------------------+

HALF_OPEN admits exactly one trial: a live call, or (usually, as it wakes exactly on
time) the prober's quota-free `GET models/{model}`. A live trial decides at once. A probe
only proves the key is accepted and reachable, not that its model serves again, so a
passed probe leads to PROBATION: the key takes calls as usual, but the first failure
re-opens it at once with a longer backoff, and only a successful generation closes it
(and forgets the backoff). A key whose probes pass while its model keeps failing
therefore costs about one round of failed calls per period, and the periods grow apart.

Failures are 5xx, timeouts and connection errors. A 429 is not one: the key answered and
its quota is handled by cooldowns, so as a trial it counts as proof of life. Results of
calls lent before the breaker last opened (an older `epoch`) are stale and change
nothing; outside CLOSED only the trial decides.

Backoff: `base * 2**(opens - 1)`, capped, then jittered down by up to 20% so keys that
failed together are not re-tried together. Time is passed in; randomness is injected.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    PROBATION = "probation"


class Event(enum.Enum):
    SUCCESS = "success"
    # A recovery probe was answered: the key is reachable and accepted, which is not yet
    # proof that it serves (the probe spends no quota, so it never generates).
    PROBE_OK = "probe_ok"
    FAILURE = "failure"
    # The upstream answered, but not with a success (429, a 4xx about the request).
    RESPONDED = "responded"
    BACKOFF_ELAPSED = "backoff_elapsed"
    TRIAL_START = "trial_start"
    # The trial ended without a result (the client left, the deadline passed).
    TRIAL_ABANDONED = "trial_abandoned"


JITTER = 0.2


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    threshold: int = 3
    backoff: float = 5.0
    max_backoff: float = 300.0


class Breaker:
    __slots__ = (
        "epoch",
        "failures",
        "opens",
        "policy",
        "random",
        "reopen_at",
        "state",
        "trial_taken",
    )

    def __init__(self, policy: BreakerPolicy, random: Callable[[], float]) -> None:
        self.policy = policy
        self.random = random
        self.state = State.CLOSED
        self.failures = 0  # consecutive, while CLOSED
        self.opens = 0  # consecutive opens without a success in between
        self.reopen_at = 0.0  # OPEN: when it turns HALF_OPEN
        self.trial_taken = False
        # Counts openings: a call lent in an earlier epoch is stale when it answers.
        self.epoch = 0

    def current(self, now: float) -> State:
        if self.state is State.OPEN and now >= self.reopen_at:
            self.fire(Event.BACKOFF_ELAPSED, now)
        return self.state

    def admits(self, now: float) -> bool:
        """Can a call go to this key now (as a normal call or as the trial)?"""
        state = self.current(now)
        if state is State.HALF_OPEN:
            return not self.trial_taken
        return state is not State.OPEN

    @property
    def on_trial(self) -> bool:
        """The next call lent is the one trial that decides the state."""
        return self.state is State.HALF_OPEN

    def fire(self, event: Event, now: float, *, trial: bool = True) -> State:
        """Apply an event. `trial=False` marks a result from a call that was not the trial:
        in OPEN and HALF_OPEN it is stale and ignored."""
        if self.state in _TRIAL_ONLY and not trial and event in _RESULTS:
            return self.state
        action = TRANSITIONS.get((self.state, event))
        if action is not None:
            self.state = action(self, now)
        return self.state

    def backoff(self) -> float:
        """The open period after the `opens`-th consecutive opening."""
        grown = self.policy.backoff * 2.0 ** min(self.opens - 1, 62)
        return min(self.policy.max_backoff, grown) * (1 - JITTER * self.random())

    def reset(self) -> None:
        self.state, self.failures, self.opens, self.trial_taken = State.CLOSED, 0, 0, False

    def retire(self) -> None:
        """Start over (the key was disabled): closed, and every call already lent is
        stale, so nothing from before can decide anything after the key comes back."""
        self.reset()
        self.epoch += 1

    # Actions: each returns the next state.

    def _count_failure(self, now: float) -> State:
        self.failures += 1
        return self._open(now) if self.failures >= self.policy.threshold else State.CLOSED

    def _close(self, now: float) -> State:
        self.reset()
        return State.CLOSED

    def _probation(self, now: float) -> State:
        # `opens` is kept: if a live call fails, the next open period is longer.
        self.trial_taken = False
        return State.PROBATION

    def _open(self, now: float) -> State:
        self.failures = 0
        self.opens += 1
        self.epoch += 1
        self.trial_taken = False
        self.reopen_at = now + self.backoff()
        return State.OPEN

    def _half_open(self, now: float) -> State:
        self.trial_taken = False
        return State.HALF_OPEN

    def _take_trial(self, now: float) -> State:
        self.trial_taken = True
        return self.state

    def _free_trial(self, now: float) -> State:
        self.trial_taken = False
        return self.state

    def _keep(self, now: float) -> State:
        return self.state


_RESULTS = frozenset([Event.SUCCESS, Event.PROBE_OK, Event.FAILURE, Event.RESPONDED])
# States in which only the trial's result decides.
_TRIAL_ONLY = frozenset([State.OPEN, State.HALF_OPEN])

TRANSITIONS: dict[tuple[State, Event], Callable[[Breaker, float], State]] = {
    (State.CLOSED, Event.SUCCESS): Breaker._close,
    (State.CLOSED, Event.FAILURE): Breaker._count_failure,
    (State.CLOSED, Event.RESPONDED): Breaker._keep,
    (State.OPEN, Event.BACKOFF_ELAPSED): Breaker._half_open,
    (State.HALF_OPEN, Event.TRIAL_START): Breaker._take_trial,
    (State.HALF_OPEN, Event.TRIAL_ABANDONED): Breaker._free_trial,
    (State.HALF_OPEN, Event.SUCCESS): Breaker._close,
    # A 429 or a rejected request shows the key answers, as a probe does, no more.
    (State.HALF_OPEN, Event.RESPONDED): Breaker._probation,
    (State.HALF_OPEN, Event.FAILURE): Breaker._open,
    (State.HALF_OPEN, Event.PROBE_OK): Breaker._probation,
    # A 429 or a rejected request proves nothing about the model: still on probation.
    (State.PROBATION, Event.SUCCESS): Breaker._close,
    (State.PROBATION, Event.FAILURE): Breaker._open,
}
"""Every legal (state, event) pair. Anything else leaves the state unchanged: e.g. a
trial start on a CLOSED breaker, or a second backoff expiry."""
