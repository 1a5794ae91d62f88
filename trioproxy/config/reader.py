"""Walking parsed YAML while collecting problems: each with the field path and what is
wrong, never the value of a secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trioproxy.config.env import UnsetVariable, expand


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str
    unset_variable: str | None = None


class Reader:
    """Walks the parsed YAML, recording problems instead of raising at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str, unset: str | None = None) -> None:
        self.problems.append(Problem(path, message, unset))

    def mapping(
        self, node: Any, path: str, allowed: set[str], required: set[str]
    ) -> dict[str, Any]:
        if not isinstance(node, dict):
            self.problem(path, f"must be a mapping, got {kind(node)}")
            return {}
        for name in node:
            if name not in allowed:
                hint = ", ".join(sorted(allowed))
                self.problem(
                    join(path, field_name(name)), f"unknown field (expected one of: {hint})"
                )
        for name in sorted(required - node.keys()):
            self.problem(join(path, name), "is required")
        return node

    def sequence(self, node: Any, path: str) -> list[Any]:
        if node is None:
            return []
        if not isinstance(node, list):
            self.problem(path, f"must be a list, got {kind(node)}")
            return []
        return node

    def string(self, node: Any, path: str, *, secret: bool = False) -> str | None:
        if not isinstance(node, str | int | float) or isinstance(node, bool):
            self.problem(path, f"must be a string, got {kind(node)}")
            return None
        try:
            value = expand(str(node), self.env)
        except UnsetVariable as unset:
            self.problem(path, f"environment variable {unset.name} is not set", unset.name)
            return None
        if not value.strip():
            self.problem(path, "must not be empty" + (" (the secret is empty)" if secret else ""))
            return None
        return value

    def number(
        self, node: Any, path: str, *, minimum: float, integer: bool = False
    ) -> float | None:
        if isinstance(node, bool) or not isinstance(node, int | float):
            self.problem(path, f"must be a number, got {kind(node)}")
            return None
        if integer and not isinstance(node, int):
            self.problem(path, "must be a whole number")
            return None
        if node < minimum:
            self.problem(path, f"must be at least {minimum:g}")
            return None
        return node

    def unique(self, names: list[tuple[str, str]], what: str) -> None:
        seen: dict[str, str] = {}
        for path, name in names:
            if name in seen:
                self.problem(path, f"duplicate {what} name {name!r} (also at {seen[name]})")
            else:
                seen[name] = path


def field_name(name: object) -> str:
    # A secret pasted one line off can land as a mapping key; never echo a long one whole.
    text = str(name)
    return text if len(text) <= 32 else text[:6] + "…"


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def kind(node: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(
        type(node), type(node).__name__
    )
