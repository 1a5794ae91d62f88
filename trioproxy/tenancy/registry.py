"""The in-memory view of projects and tokens that every request is checked against.

Authentication is a dict lookup by the token's hash; admission reads the rolling windows
of the token and its project. Nothing here does I/O, so a request never waits on SQLite;
the manager keeps the view in step with the store (store first, then the view), and a
revocation applies to the next request the moment the management call returns.

Usage counters live here; the ones a request changed are marked in `dirty` for the
manager's writer to flush.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from trioproxy.tenancy.model import Limits, Project, Token, Usage
from trioproxy.tenancy.secrets import digest
from trioproxy.tenancy.windows import RollingWindow

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True, slots=True)
class Grant:
    """An authenticated token and the project it belongs to."""

    token: Token
    project: Project

    def allows_model(self, *names: str) -> bool:
        patterns = self.project.models
        if patterns is None:
            return True
        return any(fnmatch.fnmatchcase(name, p) for name in names for p in patterns)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is over a limit, and for how long."""

    owner: str  # "token tok_..." or "project billing"
    limit: str  # "requests per minute", ...
    value: int
    retry_after: float
    kind: str  # "requests" | "tokens" (OpenAI's 429 `type`)


class Meter:
    """The rolling windows behind one owner's limits (created when first needed)."""

    __slots__ = ("day_tokens", "hour", "minute")

    def __init__(self) -> None:
        self.minute = RollingWindow(MINUTE)
        self.hour = RollingWindow(HOUR)
        self.day_tokens = RollingWindow(DAY)

    def refusal(self, owner: str, limits: Limits, now: float) -> Refusal | None:
        checks = (
            (self.minute, limits.requests_per_minute, "requests per minute", "requests"),
            (self.hour, limits.requests_per_hour, "requests per hour", "requests"),
            (self.day_tokens, limits.tokens_per_day, "tokens per day", "tokens"),
        )
        worst: Refusal | None = None
        for window, limit, label, kind in checks:
            if limit is None:
                continue
            wait = window.wait(now, limit)
            if wait is not None and (worst is None or wait > worst.retry_after):
                worst = Refusal(owner, label, limit, wait, kind)
        return worst


class Registry:
    def __init__(
        self,
        projects: Iterable[Project] = (),
        tokens: Iterable[Token] = (),
        usage: dict[tuple[str, str], Usage] | None = None,
    ) -> None:
        self.projects = {project.name: project for project in projects}
        self.tokens: dict[str, Token] = {}
        self._by_hash: dict[str, Token] = {}
        # ("token", id) / ("project", name) -> totals
        self.usage: dict[tuple[str, str], Usage] = dict(usage or {})
        self.dirty: set[tuple[str, str]] = set()
        self._meters: dict[tuple[str, str], Meter] = {}
        for token in tokens:
            self.put_token(token)

    # Requests.

    def authenticate(self, presented: str, wall: float) -> Grant | None:
        """The grant of a valid token; None for an unknown, revoked or expired one (the
        caller is not told which)."""
        token = self._by_hash.get(digest(presented))
        if token is None or token.state(wall) != "active":
            return None
        project = self.projects.get(token.project)
        return Grant(token, project) if project is not None else None

    def admit(self, grant: Grant, now: float) -> Refusal | None:
        """Count a request against the token's and the project's limits, or say which
        limit refuses it (then nothing is counted)."""
        token, project = grant.token, grant.project
        token_meter = self._meter("token", token.id)
        project_meter = self._meter("project", project.name)
        refusals = [
            token_meter.refusal(f"token {token.id}", token.limits, now),
            project_meter.refusal(f"project {project.name}", project.limits, now),
        ]
        found = [refusal for refusal in refusals if refusal is not None]
        if found:
            return max(found, key=lambda refusal: refusal.retry_after)
        for meter in (token_meter, project_meter):
            meter.minute.add(now)
            meter.hour.add(now)
        return None

    def record(self, grant: Grant, tokens: tuple[int, int, int], now: float, wall: float) -> None:
        """A request of `grant` ended, having used (prompt, completion, reasoning) tokens."""
        prompt, completion, reasoning = tokens
        spent = Usage(1, prompt, completion, reasoning, wall)
        owners = (("token", grant.token.id), ("project", grant.project.name))
        project = self.projects.get(grant.project.name)
        if project is None or project.created_at != grant.project.created_at:
            return  # deleted while the request ran (maybe made anew): its totals went too
        for owner in owners:
            if owner[0] == "token" and owner[1] not in self.tokens:
                continue
            self.usage.setdefault(owner, Usage()).add(spent)
            self.dirty.add(owner)
            self._meter(*owner).day_tokens.add(now, prompt + completion)

    def usage_of(self, kind: str, name: str) -> Usage:
        return self.usage.get((kind, name)) or Usage()

    # Changes (made by the manager, after the store has them).

    def put_project(self, project: Project) -> None:
        self.projects[project.name] = project

    def remove_project(self, name: str) -> list[Token]:
        """Remove a project and its tokens; the tokens removed."""
        self.projects.pop(name, None)
        removed = [token for token in self.tokens.values() if token.project == name]
        for token in removed:
            self.remove_token(token.id)
        self.usage.pop(("project", name), None)
        self._meters.pop(("project", name), None)
        return removed

    def put_token(self, token: Token) -> None:
        old = self.tokens.get(token.id)
        if old is not None:
            self._by_hash.pop(old.hash, None)
        self.tokens[token.id] = token
        self._by_hash[token.hash] = token

    def remove_token(self, token_id: str) -> None:
        token = self.tokens.pop(token_id, None)
        if token is not None:
            self._by_hash.pop(token.hash, None)
        self.usage.pop(("token", token_id), None)
        self._meters.pop(("token", token_id), None)

    def active_tokens(self, project: str, wall: float) -> int:
        return sum(
            token.project == project and token.state(wall) == "active"
            for token in self.tokens.values()
        )

    def _meter(self, kind: str, name: str) -> Meter:
        meter = self._meters.get((kind, name))
        if meter is None:
            meter = self._meters[(kind, name)] = Meter()
        return meter
