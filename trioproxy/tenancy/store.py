"""Projects, tokens and their usage totals in SQLite: `access.sqlite3` in the data
directory (which the state store has locked for this process).

It is the source of truth for who may call the gateway, so unlike the pool state it has
no JSON fallback: a gateway that cannot open it does not start (a silently empty token
table would lock every client out; an old one could let revoked tokens back in). Every
change is one transaction, written before the in-memory view changes, so a failed write
changes nothing. With persistence off (`TRIOPROXY_DATA_DIR=off`), or a data directory
that cannot be written and holds no access database yet (so there is nothing to lose),
everything lives in memory for the life of the process, and that is logged as an error.

Calls block and come from worker threads; a lock runs them one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from trioproxy import logs
from trioproxy.state.json_store import StoreError
from trioproxy.state.sqlite_store import transaction
from trioproxy.tenancy.model import Limits, Project, Token, Usage

FILE_NAME = "access.sqlite3"
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, metadata TEXT NOT NULL,
    models TEXT, upstreams TEXT, limits TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, name TEXT,
    expires_at REAL NOT NULL, limits TEXT NOT NULL, created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS usage (
    kind TEXT NOT NULL, name TEXT NOT NULL, requests INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL, last_used_at REAL,
    PRIMARY KEY (kind, name)
);
"""

Loaded = tuple[list[Project], list[Token], dict[tuple[str, str], Usage]]


class AccessStore:
    """`path` None: memory only (every write succeeds and is forgotten)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> Loaded:
        if self.path is not None and not self.path.exists() and not _writable(self.path.parent):
            logs.event(
                "the data directory is not writable: projects and tokens are kept in "
                "memory only, and lost when the gateway stops",
                logging.ERROR,
                path=str(self.path),
            )
            self.path = None
            return [], [], {}
        if self.path is None:
            logs.event(
                "persistence is off: projects and tokens are kept in memory only, and "
                "lost when the gateway stops",
                logging.WARNING,
            )
            return [], [], {}
        with self._errors("cannot open"):
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn = conn
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"schema version {version} is newer than this build's")
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise StoreError("the database is damaged")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._transaction() as db:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            try:
                return self._load(conn)
            except (ValueError, TypeError) as error:  # a row edited into nonsense
                raise StoreError(f"{self.path}: unreadable row: {error}") from error

    def put_project(self, project: Project) -> None:
        self._run(
            "INSERT OR REPLACE INTO projects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                project.name,
                project.description,
                json.dumps(project.metadata),
                _list(project.models),
                _list(project.upstreams),
                json.dumps(project.limits.as_dict()),
                project.created_at,
                project.updated_at,
            ),
        )

    def delete_project(self, name: str) -> None:
        """The project, its tokens and all their usage, in one transaction."""
        with self._operation() as db:
            db.execute(
                "DELETE FROM usage WHERE kind = 'token' AND name IN "
                "(SELECT id FROM tokens WHERE project = ?)",
                (name,),
            )
            db.execute("DELETE FROM usage WHERE kind = 'project' AND name = ?", (name,))
            db.execute("DELETE FROM tokens WHERE project = ?", (name,))
            db.execute("DELETE FROM projects WHERE name = ?", (name,))

    def put_token(self, token: Token) -> None:
        self._run(
            "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.project,
                token.hash,
                token.name,
                token.expires_at,
                json.dumps(token.limits.as_dict()),
                token.created_at,
                token.revoked_at,
            ),
        )

    def delete_token(self, token_id: str) -> None:
        with self._operation() as db:
            db.execute("DELETE FROM usage WHERE kind = 'token' AND name = ?", (token_id,))
            db.execute("DELETE FROM tokens WHERE id = ?", (token_id,))

    def write_usage(self, rows: dict[tuple[str, str], Usage]) -> None:
        """Totals of tokens and projects that still exist (one deleted since the totals
        were copied keeps no row)."""
        with self._operation() as db:
            db.executemany(
                "INSERT OR REPLACE INTO usage SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE "
                "(?1 = 'token' AND EXISTS (SELECT 1 FROM tokens WHERE id = ?2)) OR "
                "(?1 = 'project' AND EXISTS (SELECT 1 FROM projects WHERE name = ?2))",
                [
                    (
                        kind,
                        name,
                        u.requests,
                        u.prompt_tokens,
                        u.completion_tokens,
                        u.reasoning_tokens,
                        u.last_used_at,
                    )
                    for (kind, name), u in rows.items()
                ],
            )

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _run(self, sql: str, values: tuple[Any, ...]) -> None:
        with self._operation() as db:
            db.execute(sql, values)

    @contextmanager
    def _operation(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self.path is None:
                yield _NULL
                return
            with self._errors("cannot write"), self._transaction() as db:
                yield db

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        if self._conn is None:
            raise StoreError("the access store is not open")
        return transaction(self._conn, "BEGIN IMMEDIATE")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OverflowError, UnicodeError) as error:
            # UnicodeError: text SQLite cannot store (input checks keep it out).
            raise StoreError(f"{self.path}: {doing}: {error}") from error

    @staticmethod
    def _load(conn: sqlite3.Connection) -> Loaded:
        projects = [
            Project(
                row[0],
                row[1],
                json.loads(row[2]),
                _tuple(row[3]),
                _tuple(row[4]),
                Limits(**json.loads(row[5])),
                row[6],
                row[7],
            )
            for row in conn.execute("SELECT * FROM projects")
        ]
        tokens = [
            Token(
                id_, project, hash_, expires, name, Limits(**json.loads(limits)), created, revoked
            )
            for id_, project, hash_, name, expires, limits, created, revoked in conn.execute(
                "SELECT * FROM tokens"
            )
        ]
        usage = {
            (kind, name): Usage(*counts)
            for kind, name, *counts in conn.execute("SELECT * FROM usage")
        }
        return projects, tokens, usage


class _NullConnection:
    def execute(self, *args: Any) -> None:
        return None

    def executemany(self, *args: Any) -> None:
        return None


_NULL: Any = _NullConnection()


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)


def _list(values: tuple[str, ...] | None) -> str | None:
    return None if values is None else json.dumps(list(values))


def _tuple(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))
