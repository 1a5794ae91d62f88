"""The SQLite state store: the primary home of the persisted pool state.

One table per kind of record (keys, cooldowns, budgets, usage) plus `meta` for
`saved_at`. A batch is written in one `BEGIN IMMEDIATE` transaction, so a crash leaves
either all of it or none. WAL journaling with `synchronous=NORMAL` makes each write one
sequential append; a power cut may lose the last writes but never corrupts the file, and
`trioproxy state` commands can read while the gateway writes.

The schema is versioned with `PRAGMA user_version`: `MIGRATIONS[i]` takes version i to
i + 1, each in its own transaction. A database from a newer build is refused without
being touched (no downgrade), and a damaged one is refused at `open()` (before anything is
written to it), so the facade can fall back to JSON and leave the operator's file alone.

The connection is made with `check_same_thread=False` because calls come from worker
threads; the caller runs them one at a time. Every `sqlite3` error leaves as `StoreError`.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import fields
from pathlib import Path
from typing import Any

from trioproxy import logs
from trioproxy.state.json_store import StoreError
from trioproxy.state.snapshot import (
    FORMAT,
    FORMAT_VERSION,
    BudgetRecord,
    CooldownRecord,
    KeyRecord,
    Snapshot,
    SnapshotError,
    UsageRecord,
)

MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema. JSON columns hold the tuples of the records as lists.
    """
    CREATE TABLE keys (
        name TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        disabled TEXT,
        auth_recheck_at REAL,
        breaker TEXT NOT NULL,
        failures INTEGER NOT NULL,
        opens INTEGER NOT NULL,
        reopen_at REAL,
        health TEXT NOT NULL,
        last_model TEXT
    );
    CREATE TABLE cooldowns (
        scope TEXT NOT NULL, model TEXT NOT NULL, dimension TEXT NOT NULL,
        until REAL NOT NULL, quota_ids TEXT NOT NULL, source TEXT,
        PRIMARY KEY (scope, model, dimension)
    );
    CREATE TABLE budgets (
        scope TEXT NOT NULL, model TEXT NOT NULL,
        requests TEXT NOT NULL, tokens TEXT NOT NULL, day TEXT NOT NULL,
        day_count INTEGER NOT NULL,
        PRIMARY KEY (scope, model)
    );
    CREATE TABLE usage (
        key TEXT NOT NULL, day TEXT NOT NULL,
        requests INTEGER NOT NULL, failures INTEGER NOT NULL, rate_limited INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
        PRIMARY KEY (key, day)
    );
    CREATE TABLE meta (name TEXT PRIMARY KEY, value);
    """,
    # 1 -> 2: the admin API's runtime overrides of a key's weight and priority.
    """
    ALTER TABLE keys ADD COLUMN weight REAL;
    ALTER TABLE keys ADD COLUMN priority INTEGER;
    """,
]

# Column names are the record fields, so rows map to records (and to the JSON document
# format, whose reader `Snapshot.from_json` does the type conversions) field by field.
# Per table: `requests` is JSON in budgets but a count in usage.
_JSON_COLUMNS = {"keys": {"health"}, "cooldowns": {"quota_ids"}, "budgets": {"requests", "tokens"}}
_TABLES: dict[str, tuple[str, ...]] = {
    "keys": tuple(f.name for f in fields(KeyRecord)),
    "cooldowns": ("scope", *(f.name for f in fields(CooldownRecord))),
    "budgets": ("scope", *(f.name for f in fields(BudgetRecord))),
    "usage": tuple(f.name for f in fields(UsageRecord)),
}


class SqliteStore:
    """The state in an SQLite database at `path`; `readonly` opens it for reading only
    (no migration, no journal change: for `trioproxy state` while a gateway runs)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        """Connect, check the file is a sound database we understand, migrate it."""
        try:
            self._open()
        except BaseException:
            with suppress(StoreError):
                self.close()
            raise

    def _open(self) -> None:
        with self._errors("cannot open"):
            if self.readonly:
                uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn = conn
            conn.execute("PRAGMA busy_timeout=5000")
            # The first read of the file: garbage fails here with "file is not a database".
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            version = _user_version(conn)
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this build "
                    f"supports ({len(MIGRATIONS)}); it is left untouched"
                )
            # Damage in pages sqlite_master does not touch: found now, before any write.
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{self.path}: the database is damaged: {check}")
            if self.readonly:
                if 0 < version < len(MIGRATIONS):
                    raise StoreError(f"{self.path}: schema version {version} is not migrated")
                return
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError(f"{self.path}: cannot use WAL journaling (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate(conn)

    def load(self) -> Snapshot:
        """The whole state, read in one transaction."""
        try:
            with self._errors("cannot read"), self._transaction("BEGIN") as conn:
                if _user_version(conn) == 0:
                    return Snapshot()  # read-only, created but not yet migrated: no tables
                rows = {table: _select(conn, table) for table in _TABLES}
                saved = conn.execute("SELECT value FROM meta WHERE name = 'saved_at'").fetchone()
        except ValueError as error:  # a JSON column that is not JSON: edited or damaged
            raise StoreError(f"{self.path}: cannot read: unreadable row: {error}") from error
        scopes: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for kind in ("cooldowns", "budgets"):
            for row in rows[kind]:
                scope = scopes.setdefault(row.pop("scope"), {"cooldowns": [], "budgets": []})
                scope[kind].append(row)
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "saved_at": saved[0] if saved else 0.0,
            "keys": rows["keys"],
            "scopes": scopes,
            "usage": rows["usage"],
        }
        try:
            return Snapshot.from_json(document)
        except SnapshotError as error:  # a value of the wrong type or shape
            raise StoreError(f"{self.path}: cannot read: unreadable row: {error}") from error

    def write(self, batch: Snapshot) -> None:
        """Apply a batch: its keys, scopes and usage rows replace ours, in one transaction."""
        with self._errors("cannot write"), self._transaction("BEGIN IMMEDIATE") as conn:
            self._put(conn, batch)
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('saved_at', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (batch.saved_at,),
            )

    def replace(self, snapshot: Snapshot) -> None:
        """Make `snapshot` the whole state, in one transaction."""
        with self._errors("cannot write"), self._transaction("BEGIN IMMEDIATE") as conn:
            for table in ("keys", "cooldowns", "budgets", "usage", "meta"):
                conn.execute(f"DELETE FROM {table}")
            self._put(conn, snapshot)
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('saved_at', ?)", (snapshot.saved_at,)
            )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._errors("cannot close"):
                conn.close()

    @staticmethod
    def _put(conn: sqlite3.Connection, batch: Snapshot) -> None:
        # OR REPLACE everywhere: records are replaced whole, and a duplicate inside a
        # batch (last one wins, as in a dict) must not fail the write.
        _insert(conn, "keys", batch.keys.values())
        for name, scope in batch.scopes.items():
            conn.execute("DELETE FROM cooldowns WHERE scope = ?", (name,))
            conn.execute("DELETE FROM budgets WHERE scope = ?", (name,))
            _insert(conn, "cooldowns", scope.cooldowns, scope=name)
            _insert(conn, "budgets", scope.budgets, scope=name)
        _insert(conn, "usage", batch.usage.values())

    def _migrate(self, conn: sqlite3.Connection) -> None:
        for version, script in enumerate(MIGRATIONS):
            with self._transaction("BEGIN IMMEDIATE"):
                # Read again under the write lock: another opener may have migrated.
                if _user_version(conn) > version:
                    continue
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            logs.event("state database migrated", path=str(self.path), version=version + 1)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is not open")
        return self._conn

    def _transaction(self, begin: str) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._connection(), begin)

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OverflowError) as error:
            # OverflowError: an integer SQLite cannot hold (2**63 and up).
            raise StoreError(f"{self.path}: {doing}: {error}") from error


@contextmanager
def transaction(conn: sqlite3.Connection, begin: str) -> Iterator[sqlite3.Connection]:
    """`begin` ... COMMIT, or ROLLBACK on any error (also used by trioproxy.tenancy)."""
    conn.execute(begin)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full) can leave the transaction open: end it, or the
        # connection would keep the write lock.
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def _statements(script: str) -> Iterator[str]:
    # executescript() would COMMIT our BEGIN IMMEDIATE first, so a migration is split
    # into statements and run one by one inside the transaction.
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise StoreError(f"incomplete statement in a migration: {pending.strip()[:60]}")


def _insert(
    conn: sqlite3.Connection, table: str, records: Iterable[Any], scope: str | None = None
) -> None:
    columns = _TABLES[table]
    prefix = [] if scope is None else [scope]
    conn.executemany(
        f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        [
            [*prefix, *(_column(record, name, table) for name in columns[len(prefix) :])]
            for record in records
        ],
    )


def _column(record: Any, name: str, table: str) -> Any:
    value = getattr(record, name)
    return json.dumps(value) if name in _JSON_COLUMNS.get(table, ()) else value


def _select(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    columns, encoded = _TABLES[table], _JSON_COLUMNS.get(table, set())
    # rowid order is insertion order: a scope's records come back in batch order.
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
    return [
        {
            name: json.loads(value) if name in encoded else value
            for name, value in zip(columns, row, strict=True)
        }
        for row in cursor
    ]
