"""The admin API (`/admin/`, bearer TRIOPROXY_ADMIN_TOKEN). This issue's part of it:
reloading keys.yaml on demand. Key control, state and decisions come with issue 5."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, request

from trioproxy.access import authenticate_admin
from trioproxy.codec import dumps
from trioproxy.errors import ProxyError

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


class ReloadFailed(ProxyError):
    status = 422
    type = "invalid_request_error"
    code = "invalid_config"

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("keys.yaml is invalid; the running config is unchanged.")
        self.problems = problems

    def envelope(self) -> dict[str, Any]:
        body = super().envelope()
        body["error"]["problems"] = list(self.problems)
        return body


@blueprint.before_request
async def admin_only() -> None:
    authenticate_admin(current_app.settings.admin_token, request.headers.get("authorization"))  # type: ignore[attr-defined]


@blueprint.post("/reload")
async def reload() -> Response:
    """Re-read keys.yaml and apply it now, even if its bytes are unchanged. 200 with what
    changed, or 422 with the problems (the running config stays)."""
    result = await current_app.reloader.reload(trigger="admin", force=True)  # type: ignore[attr-defined]
    if result.outcome == "failed":
        raise ReloadFailed(result.problems)
    body = {
        "outcome": result.outcome,
        "added": list(result.added),
        "removed": list(result.removed),
        "replaced": list(result.replaced),
        "keys": len(current_app.gateway.config.keys),  # type: ignore[attr-defined]
    }
    return Response(dumps(body), content_type="application/json")
