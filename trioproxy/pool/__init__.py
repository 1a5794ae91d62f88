"""Credential state and selection (pure: no I/O, time passed in)."""

from trioproxy.pool.outcome import (
    AuthFailure,
    ClientFault,
    Outcome,
    RateLimited,
    Success,
    Transient,
)
from trioproxy.pool.pool import KeyPool, KeyState, Pick, Unavailable

__all__ = [
    "AuthFailure",
    "ClientFault",
    "KeyPool",
    "KeyState",
    "Outcome",
    "Pick",
    "RateLimited",
    "Success",
    "Transient",
    "Unavailable",
]
