"""Who is calling: a configured client key, or (with none configured) a loopback caller."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from trioproxy.config.model import ClientSpec
from trioproxy.errors import AuthenticationFailed, NotFound, PermissionDenied
from trioproxy.secret import Secret


@dataclass(frozen=True, slots=True)
class Caller:
    name: str


LOOPBACK_CALLER = Caller("loopback")


def authenticate(
    clients: Sequence[ClientSpec], authorization: str | None, remote_addr: str | None
) -> Caller:
    """Raise AuthenticationFailed (401) or PermissionDenied (403), else name the caller."""
    if not clients:
        if _is_loopback(remote_addr):
            return LOOPBACK_CALLER
        raise PermissionDenied(
            "No client keys are configured, so this gateway only serves loopback clients. "
            "Add `clients` to keys.yaml to serve other addresses."
        )
    token = _bearer(authorization)
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


def authenticate_admin(token: Secret | None, authorization: str | None) -> None:
    """The admin API: `Authorization: Bearer $TRIOPROXY_ADMIN_TOKEN`, compared in
    constant time. With no token set the admin API is off (404, as if it did not exist)."""
    if token is None:
        raise NotFound("The admin API is off: set TRIOPROXY_ADMIN_TOKEN to enable it.")
    presented = _bearer(authorization)
    if presented is None or not token.matches(presented):
        raise AuthenticationFailed("Missing or incorrect admin token.")


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
