"""Who is calling: a project token (`tp-...`), a configured client key, or (with no client
keys configured) a loopback caller."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from trioproxy.config.model import ClientSpec
from trioproxy.errors import (
    AuthenticationFailed,
    ClientError,
    NotFound,
    PermissionDenied,
    retry_after_header,
)
from trioproxy.secret import Secret
from trioproxy.tenancy.registry import Grant, Registry
from trioproxy.tenancy.secrets import looks_like_token

INVALID_TOKEN = "Invalid or expired token."


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    # A project token's grant; None for a static client key or a loopback caller.
    grant: Grant | None = None


LOOPBACK_CALLER = Caller("loopback")


def authenticate(
    clients: Sequence[ClientSpec],
    authorization: str | None,
    remote_addr: str | None,
    tokens: Registry | None = None,
    wall: float = 0.0,
) -> Caller:
    """Raise AuthenticationFailed (401) or PermissionDenied (403), else name the caller.

    A `tp-` bearer is a project token and must be valid: an unknown, revoked and expired
    one get the same 401, so a caller learns nothing about which it was."""
    presented = _bearer(authorization)
    if presented is not None and tokens is not None and looks_like_token(presented):
        grant = tokens.authenticate(presented, wall)
        if grant is not None:
            return Caller(grant.token.name or grant.token.id, grant)
        if not any(client.secret.matches(presented) for client in clients):
            raise AuthenticationFailed(INVALID_TOKEN)
    if not clients:
        if _is_loopback(remote_addr):
            return LOOPBACK_CALLER
        raise PermissionDenied(
            "No client keys are configured, so this gateway only serves loopback clients "
            "and project tokens. Send a project token (`Authorization: Bearer tp-...`), or "
            "add `clients` to keys.yaml."
        )
    token = presented
    if token is None:
        raise AuthenticationFailed(
            "Missing credentials: send your client key as `Authorization: Bearer <key>`."
        )
    match: Caller | None = None
    # Compare against every client, not stopping at the first match, so the time taken does
    # not reveal which entry (if any) matched.
    for client in clients:
        if client.secret.matches(token) and match is None:
            match = Caller(client.name)
    if match is None:
        raise AuthenticationFailed("Incorrect API key provided.")
    return match


def authenticate_admin(token: Secret | None, authorization: str | None, api: str = "admin") -> None:
    """The admin API: `Authorization: Bearer $TRIOPROXY_ADMIN_TOKEN` (the management API:
    $TRIOPROXY_MANAGEMENT_TOKEN), compared in constant time. With no token set the API is
    off (404, as if it did not exist)."""
    if token is None:
        variable = f"TRIOPROXY_{api.upper()}_TOKEN"
        raise NotFound(f"The {api} API is off: set {variable} to enable it.")
    presented = _bearer(authorization)
    if presented is None or not token.matches(presented):
        raise AuthenticationFailed(f"Missing or incorrect {api} token.")


def authorize_metrics(
    token: Secret | None, authorization: str | None, remote_addr: str | None
) -> None:
    """/metrics: open to loopback callers (a local Prometheus or sidecar); from anywhere
    else only with the admin token."""
    if _is_loopback(remote_addr):
        return
    if token is None:
        raise PermissionDenied(
            "Metrics are served to loopback callers only; set TRIOPROXY_ADMIN_TOKEN to "
            "scrape from elsewhere with it."
        )
    authenticate_admin(token, authorization)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class RateLimitReached(ClientError):
    """A project token over its own or its project's limit (not the upstream's quota)."""

    status = 429
    code = "rate_limit_exceeded"


def admit(tokens: Registry, grant: Grant, now: float) -> None:
    """Count the request against the token's and its project's limits, or raise 429 with
    the seconds until it would be allowed."""
    refusal = tokens.admit(grant, now)
    if refusal is None:
        return
    wait = retry_after_header(refusal.retry_after)
    raise RateLimitReached(
        f"Rate limit reached for {refusal.owner} on {refusal.limit}: limit {refusal.value}. "
        f"Please try again in {wait}s.",
        type=refusal.kind,
        headers={
            "retry-after": wait,
            f"x-ratelimit-limit-{refusal.kind}": str(refusal.value),
            f"x-ratelimit-remaining-{refusal.kind}": "0",
            f"x-ratelimit-reset-{refusal.kind}": f"{wait}s",
        },
    )
