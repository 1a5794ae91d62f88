"""The records of client access. Projects and tokens are frozen (an update replaces the
record, so a request holds a consistent one); usage counters are mutable and owned by the
registry."""

from __future__ import annotations

from dataclasses import dataclass, field

# Tokens wither: every token expires; the longest life one can be given.
MAX_TOKEN_LIFETIME = 365 * 86400.0
DEFAULT_TOKEN_LIFETIME = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Per token or per project; None: no limit."""

    requests_per_minute: int | None = None
    requests_per_hour: int | None = None
    tokens_per_day: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {
            "requests_per_minute": self.requests_per_minute,
            "requests_per_hour": self.requests_per_hour,
            "tokens_per_day": self.tokens_per_day,
        }


LIMIT_FIELDS = tuple(Limits().as_dict())


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # fnmatch globs over model names; None: any model.
    models: tuple[str, ...] | None = None
    # upstream names from keys.yaml; None: any upstream.
    upstreams: tuple[str, ...] | None = None
    limits: Limits = Limits()
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    project: str
    # sha256 of the token: the token itself is never stored.
    hash: str
    expires_at: float
    name: str | None = None
    limits: Limits = Limits()
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def state(self, wall: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if wall >= self.expires_at else "active"


@dataclass(slots=True)
class Usage:
    """Totals since the token or project was created."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    last_used_at: float | None = None

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.reasoning_tokens += other.reasoning_tokens
        if other.last_used_at is not None:
            self.last_used_at = max(self.last_used_at or 0.0, other.last_used_at)
