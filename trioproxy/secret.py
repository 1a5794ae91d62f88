"""A value that cannot be printed in clear.

Upstream keys and client credentials live in `Secret` from the moment the config is read.
`str()`, `repr()`, f-strings, `%` formatting and logging all see a mask, and `json.dumps`
and pickling refuse. The only way to the clear text is `reveal()`, used for exactly three
purposes: building the upstream request header (upstream.py), scrubbing the key out of
upstream error text (failures.py), and comparing a presented client credential
(`matches`, here). Grep for `reveal(` to audit them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NoReturn


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
