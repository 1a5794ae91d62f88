"""Records -> the management API's JSON. Times are ISO 8601 in UTC; a token's hash is
never shown (its id names it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trioproxy.tenancy.model import Project, Token, Usage
from trioproxy.tenancy.registry import Registry


def iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def usage_view(usage: Usage) -> dict[str, Any]:
    return {
        "requests": usage.requests,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "last_used_at": iso(usage.last_used_at),
    }


def project_view(project: Project, registry: Registry, wall: float) -> dict[str, Any]:
    return {
        "name": project.name,
        "description": project.description,
        "metadata": project.metadata,
        "models": list(project.models) if project.models is not None else None,
        "upstreams": list(project.upstreams) if project.upstreams is not None else None,
        "limits": project.limits.as_dict(),
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
        "tokens": registry.active_tokens(project.name, wall),
        "usage": usage_view(registry.usage_of("project", project.name)),
    }


def token_view(token: Token, registry: Registry, wall: float) -> dict[str, Any]:
    return {
        "id": token.id,
        "project": token.project,
        "name": token.name,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
        "active": token.active,
        "state": token.state(wall),
        "limits": token.limits.as_dict(),
        "usage": usage_view(registry.usage_of("token", token.id)),
    }
