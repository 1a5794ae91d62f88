"""Credential state and selection (pure: no I/O, time passed in)."""

from trioproxy.pool.blocks import Block, Unavailable
from trioproxy.pool.outcome import (
    AuthFailure,
    ClientFault,
    Outcome,
    RateLimited,
    Success,
    Transient,
)
from trioproxy.pool.pool import KeyPool, Pick
from trioproxy.pool.state import KeyState

__all__ = [
    "AuthFailure",
    "Block",
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
