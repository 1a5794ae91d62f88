"""The validated configuration: frozen values, built once by the loader.

Every object here is immutable, so a running request holds one consistent `Config` for its
whole life; a reload (later) builds a new one and swaps the reference atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trioproxy.secret import Secret

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"


POLICIES = ("round_robin", "weighted", "least_inflight")


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """A local budget for the models matching `models` (an fnmatch glob). None: no limit."""

    models: str
    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    secret: Secret
    upstream: str
    # Keys of one Google Cloud project share its quota: a 429 on one cools them all.
    project: str | None = None
    weight: float = 1.0
    # Tier 0 is used before tier 1, and so on.
    priority: int = 0
    limits: tuple[LimitSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    name: str
    type: str
    base_url: str
    api_version: str
    keys: tuple[KeySpec, ...]
    policy: str = "round_robin"


@dataclass(frozen=True, slots=True)
class ClientSpec:
    name: str
    secret: Secret


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    # One deadline for the whole request, all attempts and the whole stream included.
    request_timeout: float = 600.0
    # How long one attempt may take before the client gets its first byte (unary: the
    # whole answer; stream: headers and first chunk) before the next key is tried.
    # Thinking models can take minutes before their first byte.
    first_byte_timeout: float = 300.0
    connect_timeout: float = 10.0
    max_attempts: int = 4
    # Cooldown for a 429 that carries no RetryInfo (the "minimal" 429 body).
    default_cooldown: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    # Circuit breaker: consecutive failures (5xx, timeouts, connection errors) that open
    # it; the first open period, doubled on every failed trial up to the cap.
    breaker_threshold: int = 3
    breaker_backoff: float = 5.0
    breaker_max_backoff: float = 300.0
    # The health score is the success ratio over this many seconds.
    health_window: float = 300.0
    # How long a request may be held when every key is cooling but one recovers soon.
    # 0 answers 429 at once.
    max_wait: float = 5.0
    # Recovery probes (GET models/{model}: no quota spent).
    probe_timeout: float = 10.0
    # How often a key disabled for an auth failure is re-checked.
    auth_recheck: float = 3600.0


@dataclass(frozen=True, slots=True)
class Config:
    source: str
    upstreams: tuple[UpstreamSpec, ...]
    clients: tuple[ClientSpec, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)

    @property
    def keys(self) -> tuple[KeySpec, ...]:
        return tuple(key for upstream in self.upstreams for key in upstream.keys)
