"""A value that cannot be printed in clear.

Upstream keys and client credentials live in `Secret` from the moment the config is read.
`str()`, `repr()`, f-strings, `%` formatting and logging all see a mask, and `json.dumps`
and pickling refuse. The only way to the clear text is `reveal()`, used for exactly four
purposes: building the upstream request header (upstream.py), scrubbing the key out of
upstream error text (failures.py), comparing a presented client credential (`matches`,
here), and the management token header of `trioproxy manage` (tenancy/manage_cli.py).
Grep for `reveal(` to audit them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import NoReturn

REDACTED = "[redacted]"
# Credentials as they appear in text an upstream may echo back: a `key=` query parameter,
# an `x-goog-api-key` or `Authorization` header value, and anything shaped like a Google
# API key (AIza + 35 characters), whoever's it is.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)([?&]key=)[^&\s\"'<>]+"),
    re.compile(r"(?i)(x-goog-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)[^\s\"',;]+"),
    re.compile(r"()AIza[0-9A-Za-z_\-]{35}"),
)


def looks_secret(text: str) -> bool:
    """Shaped like a Google API key (the one credential pattern a bare token can match)."""
    return _CREDENTIAL_PATTERNS[-1].search(text) is not None


def scrub(text: str, *secrets: Secret) -> str:
    """`text` from an upstream, safe to pass on: the given secrets and every credential
    pattern above replaced by `[redacted]`."""
    for secret in secrets:
        text = text.replace(secret.reveal(), REDACTED)
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class Secret:
    __slots__ = ("_fingerprint", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        # A stable, non-reversible identity: lets reloads tell "same key" from "new key" and
        # lets operators correlate keys without ever seeing them.
        self._fingerprint = hashlib.sha256(value.encode()).hexdigest()[:12]

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def matches(self, candidate: str) -> bool:
        """Constant-time comparison with a presented credential."""
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __repr__(self) -> str:
        return f"Secret(sha256:{self._fingerprint})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(
            self._value.encode(), other._value.encode()
        )

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Secret cannot be serialised")
