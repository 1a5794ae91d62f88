"""Client tokens: `tp-` and 256 random bits, shown once; stored as their SHA-256.

A plain (unsalted) hash is enough for a token with 256 bits of entropy: nobody can guess
one to match a stolen hash, and it lets a presented token be found in O(1) by its hash,
with no comparison whose timing depends on the stored tokens.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "tp-"


def mint() -> tuple[str, str]:
    """A new token and its hash."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token_id() -> str:
    # Public, shown in lists, logs and events; 64 random bits make collisions negligible.
    return "tok_" + secrets.token_hex(8)


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)
