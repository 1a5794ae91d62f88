"""`${NAME}` and `${NAME:-default}` expansion in config strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class UnsetVariable(Exception):
    name: str


def expand(value: str, env: Mapping[str, str]) -> str:
    """Replace every reference; raise `UnsetVariable` for the first unset one without default.

    `$${...}` is not special: a literal `${` in a secret is rare, and a key that needs one can
    be put in the environment instead.
    """

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise UnsetVariable(name)

    return _REFERENCE.sub(substitute, value)


def references(value: str) -> list[str]:
    return [match.group(1) for match in _REFERENCE.finditer(value)]
