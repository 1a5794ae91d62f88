"""Management operations on projects and tokens, and the usage writer.

Every change runs under one lock: checked against the view, written to the store in a
worker thread, and only then applied to the view. So a failed write changes nothing,
two creates of one name cannot both succeed, and the change is live for the very next
request once the call returns.

Usage totals change on every request; they are only marked in the registry, and the
**usage writer** (a supervisor service) writes the marked ones each second and once more
when it stops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import trio

from trioproxy import logs
from trioproxy.errors import ClientError, InvalidRequest, NotFound, ProxyError
from trioproxy.state.json_store import StoreError
from trioproxy.tenancy import secrets
from trioproxy.tenancy.model import Limits, Project, Token
from trioproxy.tenancy.registry import Registry
from trioproxy.tenancy.store import AccessStore

FLUSH_INTERVAL = 1.0


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
            project = Project(**fields, created_at=now, updated_at=now)
            await self._write(self.store.put_project, project)
            self.registry.put_project(project)
        self._audit("project created", project=project.name)
        return project

    async def update_project(self, name: str, fields: dict[str, Any]) -> Project:
        async with self._lock:
            project = replace(self.project(name), **fields, updated_at=self.wall())
            await self._write(self.store.put_project, project)
            self.registry.put_project(project)
        self._audit("project updated", project=name, fields=sorted(fields))
        return project

    async def delete_project(self, name: str) -> int:
        """Delete a project and its tokens (which stop working at once); how many."""
        async with self._lock:
            self.project(name)
            await self._write(self.store.delete_project, name)
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
                limits=fields.get("limits") or Limits(),
                created_at=now,
            )
            await self._write(self.store.put_token, token)
            self.registry.put_token(token)
        self._audit("token created", token=token.id, project=token.project)
        return token, secret

    async def update_token(self, token_id: str, fields: dict[str, Any]) -> Token:
        async with self._lock:
            changes = {name: value for name, value in fields.items() if name != "expires_in"}
            if "expires_in" in fields:
                changes["expires_at"] = self.wall() + fields["expires_in"]
            token = replace(self.token(token_id), **changes)
            await self._write(self.store.put_token, token)
            self.registry.put_token(token)
        self._audit("token updated", token=token_id, fields=sorted(fields))
        return token

    async def revoke_token(self, token_id: str) -> Token:
        async with self._lock:
            token = self.token(token_id)
            if token.revoked_at is None:
                token = replace(token, revoked_at=self.wall())
                await self._write(self.store.put_token, token)
                self.registry.put_token(token)
        self._audit("token revoked", token=token_id, project=token.project)
        return token

    async def delete_token(self, token_id: str) -> None:
        async with self._lock:
            self.token(token_id)
            await self._write(self.store.delete_token, token_id)
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
        async with self._lock:
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

    async def _write(self, operation: Callable[[Any], None], argument: Any) -> None:
        try:
            await self._blocking(operation, argument)
        except StoreError as error:
            logs.event("access store write failed", logging.ERROR, reason=str(error))
            raise StoreUnavailable(
                "The change could not be saved (see the gateway's log); nothing changed."
            ) from None

    async def _blocking(self, operation: Callable[[Any], None], argument: Any) -> None:
        if self.store.path is None:
            # Memory only: no I/O, and no thread (which would race a test's virtual clock).
            operation(argument)
        else:
            await trio.to_thread.run_sync(operation, argument)

    @staticmethod
    def _audit(message: str, **fields: Any) -> None:
        logs.event(message, **fields)
