"""The state store the gateway uses: SQLite when it can, JSON when it cannot, memory last.

`StateStore.open()` takes an exclusive lock on the data directory (two gateways writing
one state would each overwrite the other's), then opens `state.sqlite3`. When SQLite
cannot be used (read-only directory, damaged file, schema from a newer build) the store
degrades to a JSON document at `data_dir/state.json`, or at the fallback directory when
the data directory is not writable, and to memory only when nothing is writable. A
damaged or newer SQLite file is never deleted or rewritten: it is the operator's data.

The facade keeps a full mirror of the state (what `open()` loaded, merged with every
batch), so a switch to JSON mid-run (disk full, I/O error) writes the whole state there,
not just the batch that failed. `write()` never raises for I/O problems: they are counted
and shown in `status`, and the gateway keeps serving. Once degraded, SQLite is not tried
again (a failing disk would fail every write); a restart retries it. Memory mode does
retry JSON on every write, so a full disk that frees up is written to again.

A JSON snapshot newer than the SQLite state (saved while the previous run was degraded)
is merged into SQLite at `open()`: its keys, scopes and usage rows win, and the older
usage rows only SQLite has are kept.

`open()`, `write()`, `replace()` and `close()` block: the state writer calls them from a
worker thread, one at a time. `status` and `snapshot()` may be read from any thread.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from trioproxy import logs
from trioproxy.state.json_store import JsonStore, StoreError, copy_snapshot
from trioproxy.state.snapshot import Snapshot
from trioproxy.state.sqlite_store import SqliteStore

__all__ = [
    "StateStore",
    "StoreError",
    "StoreLocked",
    "StoreStatus",
    "default_fallback_dir",
    "read_state",
]

SQLITE_NAME = "state.sqlite3"
JSON_NAME = "state.json"
LOCK_NAME = "trioproxy.lock"


class StoreLocked(StoreError):
    """The data directory is in use by another trioproxy process."""


@dataclass(frozen=True, slots=True)
class StoreStatus:
    kind: str  # "sqlite" | "json" | "memory"
    location: str  # the file written to ("" in memory)
    degraded: bool  # kind != "sqlite"
    reason: str | None  # why it is degraded
    writes: int  # batches persisted
    write_failures: int  # store operations that failed (a switch to JSON counts one)


def default_fallback_dir(data_dir: Path) -> Path:
    """A per-user, per-data-directory place in the temp dir for the JSON fallback."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"trioproxy-{os.getuid()}" / digest


class StateStore:
    """The gateway's state store for `data_dir` (see the module docstring)."""

    def __init__(self, data_dir: Path, *, fallback_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self.fallback_dir = fallback_dir or default_fallback_dir(data_dir)
        self._sqlite: SqliteStore | None = None
        self._json: JsonStore | None = None
        self._lock_fd: int | None = None
        self._mirror = Snapshot()
        self._mirror_lock = threading.Lock()
        # Store operations come from worker threads (the state writer, an import through
        # the admin API): one at a time, or two would share one SQLite connection.
        self._operations = threading.Lock()
        self._cause = "not open"  # why the store is degraded
        self._status = StoreStatus("memory", "", True, self._cause, 0, 0)
        self._is_open = False

    @property
    def status(self) -> StoreStatus:
        """Where the state goes now and how writes went; safe to read from any thread."""
        return self._status

    def open(self, *, lock: bool = True) -> Snapshot:
        """Lock the data directory, open the best store available; the state to restore."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            _warn("cannot create the data directory", path=self.data_dir, reason=error)
        if lock:
            self._lock()
        try:
            self._open_store()
        except BaseException:
            self.close()
            raise
        self._is_open = True
        return self.snapshot()

    def write(self, batch: Snapshot) -> None:
        """Persist a batch of changes; never raises for I/O problems."""
        with self._operations:
            self._write(batch)

    def _write(self, batch: Snapshot) -> None:
        self._check_open()
        with self._mirror_lock:
            self._mirror.merge(batch)
        self._persist(lambda store: store.write(batch))

    def replace(self, snapshot: Snapshot) -> None:
        """Make `snapshot` the whole state (import); never raises for I/O problems."""
        with self._operations:
            self._replace(snapshot)

    def _replace(self, snapshot: Snapshot) -> None:
        self._check_open()
        with self._mirror_lock:
            self._mirror = copy_snapshot(snapshot)
        self._persist(lambda store: store.replace(snapshot))

    def snapshot(self) -> Snapshot:
        """A copy of the whole current state."""
        with self._mirror_lock:
            return copy_snapshot(self._mirror)

    def close(self) -> None:
        """Close the store and release the lock. The lock file stays: removing it would
        race with a process that has just opened it and is about to lock it."""
        with self._operations:
            self._close_all()

    def _close_all(self) -> None:
        self._is_open = False
        store, self._sqlite, self._json = self._sqlite or self._json, None, None
        if store is not None:
            _close(store)
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _lock(self) -> None:
        path = self.data_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            try:  # flock works on a read-only descriptor too, if the file exists
                fd = os.open(path, os.O_RDONLY)
            except OSError as error:
                _warn("cannot create the lock file; running without it", path=path, reason=error)
                return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise StoreLocked(
                f"{self.data_dir} is in use by another trioproxy process (pid {holder})"
            ) from None
        self._lock_fd = fd
        with suppress(OSError):  # the pid only makes the message above useful
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def _open_store(self) -> None:
        newer = _newest(self._json_paths())
        restored = copy_snapshot(newer) if newer is not None else Snapshot()
        sqlite = SqliteStore(self.data_dir / SQLITE_NAME)
        try:
            sqlite.open()
            restored = sqlite.load()
            if newer is not None and newer.saved_at > restored.saved_at:
                _warn(
                    "restoring the newer JSON state of a degraded run into SQLite",
                    saved_at=newer.saved_at,
                    sqlite_saved_at=restored.saved_at,
                )
                # Merged before the write, so a failing write still restores both.
                restored.merge(newer)
                sqlite.write(newer)
        except (StoreError, OSError) as error:
            _close(sqlite)
            _warn(
                "cannot use the SQLite state; falling back to JSON. The SQLite file is left "
                "as it is: it is the operator's data",
                reason=error,
            )
            # A database that cannot be written (a read-only directory) may still be
            # read: its state is restored, and carried on in JSON.
            readable = _read_sqlite(self.data_dir / SQLITE_NAME)
            if readable is not None and readable.saved_at > restored.saved_at:
                restored = readable
            self._mirror, self._cause = restored, str(error)
            self._activate_json(quiet=False)
            return
        self._sqlite, self._mirror = sqlite, restored
        self._set("sqlite", str(sqlite.path), None)

    def _persist(self, operation: Callable[[SqliteStore | JsonStore], None]) -> None:
        store = self._sqlite or self._json
        if store is None:  # memory: try JSON again (quietly), with the whole state
            written = self._activate_json(quiet=True)
            self._count(int(written), int(not written))
            return
        try:
            operation(store)
        except StoreError as error:
            _warn("state write failed", kind=self._status.kind, reason=error)
            _close(store)
            self._sqlite = self._json = None
            self._cause = str(error)
            self._count(0, 1)
            if self._activate_json(quiet=False):
                self._count(1, 0)
            return
        self._count(1, 0)

    def _activate_json(self, *, quiet: bool) -> bool:
        """Write the whole mirror to the first JSON location that takes it."""
        for path in self._json_paths(create=True):
            store = JsonStore(path)
            try:
                store.load()  # a file that is not a state document is not ours to overwrite
                store.replace(self.snapshot())
            except (StoreError, OSError) as error:
                if not quiet:
                    _warn("cannot write the JSON state", path=path, reason=error)
                continue
            self._json = store
            self._set("json", str(path), self._cause)
            _warn("state store now writes to JSON (degraded)", location=path, reason=self._cause)
            return True
        if not quiet:
            _warn("state store degraded to memory: nothing is writable", logging.ERROR,
                  reason=self._cause)  # fmt: skip
        self._set("memory", "", self._cause)
        return False

    def _check_open(self) -> None:
        # Writing before open() would write unlocked, into whatever store comes first.
        if not self._is_open:
            raise RuntimeError("the state store is not open")

    def _json_paths(self, *, create: bool = False) -> list[Path]:
        paths = [self.data_dir / JSON_NAME]
        # The fallback lives in a shared temp dir: only a directory that is ours alone is
        # read or written, or another local user could plant a state for us to restore.
        if _private_dir(self.fallback_dir, create=create):
            paths.append(self.fallback_dir / JSON_NAME)
        return paths

    def _set(self, kind: str, location: str, reason: str | None) -> None:
        self._status = replace(
            self._status, kind=kind, location=location, degraded=kind != "sqlite", reason=reason
        )

    def _count(self, writes: int, failures: int) -> None:
        old = self._status
        self._status = replace(
            old, writes=old.writes + writes, write_failures=old.write_failures + failures
        )


def _private_dir(path: Path, *, create: bool = False) -> bool:
    """True if `path` and its parent are directories owned by this user and writable by
    no one else (`create`: made so, for this user only, where missing)."""
    for level in (path.parent, path):
        try:
            if create:
                level.mkdir(mode=0o700, exist_ok=True)
            info = level.lstat()
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


def _read_sqlite(path: Path) -> Snapshot | None:
    if not path.exists():
        return None
    sqlite = SqliteStore(path, readonly=True)
    try:
        sqlite.open()
        return sqlite.load()
    except StoreError as error:
        _warn("cannot read the SQLite state", reason=error)
        return None
    finally:
        _close(sqlite)


def read_state(data_dir: Path, *, fallback_dir: Path | None = None) -> Snapshot:
    """The newest state saved for `data_dir`, read only: no lock, no migration, safe while
    a gateway runs. SQLite wins a tie; an empty state when nothing is there."""
    found: list[Snapshot] = []
    saved = _read_sqlite(data_dir / SQLITE_NAME)
    if saved is not None:
        found.append(saved)
    fallback = fallback_dir or default_fallback_dir(data_dir)
    paths = [data_dir / JSON_NAME]
    if _private_dir(fallback):
        paths.append(fallback / JSON_NAME)
    newer = _newest(paths)
    found.extend([newer] if newer is not None else [])
    return max(found, key=lambda snapshot: snapshot.saved_at, default=Snapshot())


def _newest(paths: list[Path]) -> Snapshot | None:
    """The readable JSON state with the latest `saved_at` among `paths`, if any."""
    found: list[Snapshot] = []
    for path in paths:
        if path.exists():
            try:
                found.append(JsonStore(path).load())
            except StoreError as error:
                _warn("cannot read a JSON state", path=path, reason=error)
    return max(found, key=lambda snapshot: snapshot.saved_at, default=None)


def _close(store: SqliteStore | JsonStore) -> None:
    try:
        store.close()
    except StoreError as error:
        _warn("cannot close the state store", reason=error)


def _warn(message: str, level: int = logging.WARNING, **fields: object) -> None:
    logs.event(message, level, **{name: str(value) for name, value in fields.items()})
