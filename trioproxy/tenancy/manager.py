"""Management operations on projects and tokens, and the usage writer.

Every change runs under one lock: checked against the view, written to the store in a
worker thread, and only then applied to the view. So a failed write changes nothing,
two creates of one name cannot both succeed, and the change is live for the very next
request once the call returns. Revocations and deletions are the exception, because
failing closed is safe and failing open is not: they apply to the view first, and hold
in this process even when the disk does not take them (the call then answers 503).
A write that takes longer than WRITE_TIMEOUT (a hung disk) is abandoned and answered 503.

Usage totals change on every request; they are only marked in the registry, and the
**usage writer** (a supervisor service) writes the marked ones each second and once more
when it stops. It takes the lock only to copy them, never across the write, so a slow
disk never holds up a revocation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import trio

from trioproxy import logs
from trioproxy.errors import ClientError, InvalidRequest, NotFound, ProxyError
from trioproxy.state.json_store import StoreError
from trioproxy.tenancy import secrets, validate
from trioproxy.tenancy.model import Limits, Project, Token
from trioproxy.tenancy.registry import Registry
from trioproxy.tenancy.store import AccessStore

FLUSH_INTERVAL = 1.0
WRITE_TIMEOUT = 10.0


class Conflict(ClientError):
    status = 409
    code = "already_exists"


class StoreUnavailable(ProxyError):
    status = 503
    code = "store_unavailable"


class Manager:
    def __init__(
        self, store: AccessStore, registry: Registry, *, wall: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.registry = registry
        self.wall = wall
        self.usage_writes = 0
        self.usage_write_failures = 0
        self._lock = trio.Lock()

    @classmethod
    def open(cls, store: AccessStore, *, wall: Callable[[], float] = time.time) -> Manager:
        """Load the store (blocking; raises StoreError)."""
        projects, tokens, usage = store.open()
        return cls(store, Registry(projects, tokens, usage), wall=wall)

    # Projects.

    async def create_project(self, fields: dict[str, Any]) -> Project:
        async with self._lock:
            if fields["name"] in self.registry.projects:
                raise Conflict(f"Project {fields['name']!r} already exists.", param="name")
            now = self.wall()
            fields = _with_limits(fields, Limits())
            project = Project(**fields, created_at=now, updated_at=now)
            await self._write(self.store.put_project, project)
            self.registry.put_project(project)
        self._audit("project created", project=project.name)
        return project

    async def update_project(self, name: str, fields: dict[str, Any]) -> Project:
        async with self._lock:
            current = self.project(name)
            if not fields:
                return current
            fields = _with_limits(fields, current.limits)
            project = replace(current, **fields, updated_at=self.wall())
            await self._write(self.store.put_project, project)
            self.registry.put_project(project)
        self._audit("project updated", project=name, fields=sorted(fields))
        return project

    async def delete_project(self, name: str) -> int:
        """Delete a project and its tokens (which stop working at once); how many."""
        async with self._lock:
            self.project(name)
            self._refuse(token for token in self.registry.tokens.values() if token.project == name)
            await self._write(self.store.delete_project, name, failing=True)
            removed = self.registry.remove_project(name)
        self._audit("project deleted", project=name, tokens=len(removed))
        return len(removed)

    def project(self, name: str) -> Project:
        project = self.registry.projects.get(name)
        if project is None:
            raise NotFound(f"No project named {name!r}.", code="project_not_found")
        return project

    # Tokens.

    async def create_token(self, fields: dict[str, Any]) -> tuple[Token, str]:
        """A new token and its secret (the only time the secret exists outside a client)."""
        async with self._lock:
            if fields["project"] not in self.registry.projects:
                raise InvalidRequest(
                    f"No project named {fields['project']!r}; create it first.", param="project"
                )
            secret, digest = secrets.mint()
            now = self.wall()
            token = Token(
                id=secrets.new_token_id(),
                project=fields["project"],
                hash=digest,
                expires_at=now + fields["expires_in"],
                name=fields.get("name"),
                limits=_with_limits(fields, Limits()).get("limits", Limits()),
                created_at=now,
            )
            await self._write(self.store.put_token, token)
            self.registry.put_token(token)
        self._audit("token created", token=token.id, project=token.project)
        return token, secret

    async def update_token(self, token_id: str, fields: dict[str, Any]) -> Token:
        async with self._lock:
            current = self.token(token_id)
            if not fields:
                return current
            changes = {name: value for name, value in fields.items() if name != "expires_in"}
            changes = _with_limits(changes, current.limits)
            if "expires_in" in fields:
                changes["expires_at"] = self.wall() + fields["expires_in"]
            token = replace(current, **changes)
            await self._write(self.store.put_token, token)
            self.registry.put_token(token)
        self._audit("token updated", token=token_id, fields=sorted(fields))
        return token

    async def revoke_token(self, token_id: str) -> Token:
        async with self._lock:
            token = self.token(token_id)
            if token.revoked_at is None:
                token = self._refuse([token])[0]
            # Written even when already revoked: a repeat after a failed save saves it.
            await self._write(self.store.put_token, token, failing=True)
        self._audit("token revoked", token=token_id, project=token.project)
        return token

    async def delete_token(self, token_id: str) -> None:
        async with self._lock:
            self._refuse([self.token(token_id)])
            await self._write(self.store.delete_token, token_id, failing=True)
            self.registry.remove_token(token_id)
        self._audit("token deleted", token=token_id)

    def token(self, token_id: str) -> Token:
        token = self.registry.tokens.get(token_id)
        if token is None:
            raise NotFound(f"No token with id {token_id!r}.", code="token_not_found")
        return token

    # The usage writer.

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await trio.sleep(FLUSH_INTERVAL)
                await self.flush()
        finally:
            with trio.CancelScope(shield=True):
                await self.flush()

    async def flush(self) -> None:
        """Write the usage totals changed since the last flush."""
        async with self._lock:  # only to copy them: see the module docstring
            registry = self.registry
            dirty, registry.dirty = registry.dirty, set()
            rows = {
                owner: replace(usage)
                for owner in dirty
                if (usage := registry.usage.get(owner)) is not None
            }
        if not rows:
            return
        try:
            with trio.CancelScope(shield=True):  # the marks are taken: finish the write
                await self._blocking(self.store.write_usage, rows)
        except StoreError as error:
            # Kept marked: written with the next flush, when the disk may be back.
            registry.dirty |= dirty
            self.usage_write_failures += 1
            logs.event("usage totals not saved", logging.WARNING, reason=str(error))
        else:
            self.usage_writes += 1

    def _refuse(self, tokens: Iterable[Token]) -> list[Token]:
        """Revoke in the view, before the store has it: refused from the next request."""
        wall = self.wall()
        refused = [replace(token, revoked_at=token.revoked_at or wall) for token in list(tokens)]
        for token in refused:
            self.registry.put_token(token)
        return refused

    async def _write(
        self, operation: Callable[[Any], None], argument: Any, *, failing: bool = False
    ) -> None:
        """Run a store operation; 503 if it fails. `failing`: the change already refuses
        tokens in this process (a revocation, a deletion), which the message says."""
        try:
            await self._blocking(operation, argument)
        except StoreError as error:
            logs.event("access store write failed", logging.ERROR, reason=str(error))
            if failing:
                message = (
                    "The tokens concerned are refused from now on, but the change could not "
                    "be saved (see the gateway's log): repeat the call once the disk is "
                    "back, as until then a restart would let them in again."
                )
            else:
                message = "The change could not be saved (see the gateway's log); nothing changed."
            raise StoreUnavailable(message) from None

    async def _blocking(self, operation: Callable[[Any], None], argument: Any) -> None:
        if self.store.path is None:
            # Memory only: no I/O, and no thread (which would race a test's virtual clock).
            operation(argument)
            return
        # A hung disk must not hang the management API or shutdown: the thread is
        # abandoned (it may still finish) and the write counts as failed.
        with trio.move_on_after(WRITE_TIMEOUT):
            await trio.to_thread.run_sync(operation, argument, abandon_on_cancel=True)
            return
        raise StoreError(f"no write finished within {WRITE_TIMEOUT:g} s")

    @staticmethod
    def _audit(message: str, **fields: Any) -> None:
        logs.event(message, **fields)


def _with_limits(fields: dict[str, Any], base: Limits) -> dict[str, Any]:
    """`fields` with its limits patch applied to `base`, under the lock: the limits are
    read when the change is made, so concurrent updates of different limits both land."""
    if "limits" not in fields:
        return fields
    return {**fields, "limits": validate.apply_limits(fields["limits"], base)}
