"""What one upstream attempt did to the credential that made it.

The dispatcher classifies every attempt into exactly one of these and reports it to the
pool; the pool's state transitions are a function of (state, outcome, now) alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Success:
    pass


@dataclass(frozen=True, slots=True)
class RateLimited:
    """429: the (key, model) is cooling for `retry_after` seconds (None: no hint given)."""

    retry_after: float | None
    per_day: bool = False
    quota_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transient:
    """5xx, timeout or connection error: try the next key; the key itself may be fine."""

    reason: str


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """The credential is invalid, expired, leaked or forbidden: never use it again."""

    reason: str


@dataclass(frozen=True, slots=True)
class ClientFault:
    """The request itself was rejected (400, 404): no other key will do better."""

    reason: str


Outcome = Success | RateLimited | Transient | AuthFailure | ClientFault
