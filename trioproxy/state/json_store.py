"""The JSON state store: the fallback when SQLite cannot be used, and the export format.

The whole state is one `Snapshot.to_json()` document. The store keeps the full snapshot in
memory, merges each batch into it and rewrites the whole file, atomically: a temporary
file in the same directory is written, flushed and fsynced, then `os.replace`d over the
old one, then the directory is fsynced (best effort). A crash therefore leaves either the
old document or the new one, never a torn file, and no reader ever sees half a write.

Rewriting the whole file is fine for a fallback that is only used while SQLite is not:
the state is small. To keep it small, usage rows are kept for `RETENTION_DAYS` only: the
newest day present and the 30 days before it (days are ISO `YYYY-MM-DD` strings, so the
window follows the data, not the clock). Older rows are dropped from memory and from the
file; SQLite, the primary store, keeps all of them.

`StoreError` is defined here, in the backend that depends on nothing else, so both
backends can raise it without importing the facade that imports them;
`trioproxy.state.store` re-exports it.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path

from trioproxy.state.snapshot import Snapshot, UsageRecord

RETENTION_DAYS = 31


class StoreError(Exception):
    """A state store that cannot be opened, read or written; the message says why."""


class JsonStore:
    """The whole state as one JSON document at `path`, rewritten atomically on each write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._state = Snapshot()

    def load(self) -> Snapshot:
        """Read the document (a missing file is an empty state) and keep it as our state."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._state = Snapshot()
            return Snapshot()
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"{self.path}: cannot read: {_reason(error)}") from error
        try:
            # SnapshotError and JSONDecodeError are both ValueErrors.
            state = Snapshot.from_json(json.loads(text))
        except ValueError as error:
            raise StoreError(f"{self.path}: not a valid state document: {error}") from error
        self._state = state
        return copy_snapshot(state)

    def write(self, batch: Snapshot) -> None:
        """Merge a batch of changes into our state and rewrite the document."""
        self._state.merge(batch)
        self._dump()

    def replace(self, snapshot: Snapshot) -> None:
        """Make `snapshot` the whole state and rewrite the document."""
        self._state = copy_snapshot(snapshot)
        self._dump()

    def close(self) -> None:
        """Nothing stays open between writes."""

    def _dump(self) -> None:
        self._state.usage = recent_usage(self._state.usage)
        data = json.dumps(self._state.to_json(), ensure_ascii=False, indent=1)
        directory = self.path.parent
        try:
            fd, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=directory
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            raise StoreError(f"{self.path}: cannot write: {_reason(error)}") from error
        _fsync_directory(directory)


def recent_usage(
    usage: dict[tuple[str, str], UsageRecord],
) -> dict[tuple[str, str], UsageRecord]:
    """The usage rows of the last `RETENTION_DAYS` days, counted back from the newest day.

    Rows whose day is not an ISO date are kept: there is no telling how old they are.
    """
    days = {day: _day(day) for _, day in usage}
    dated = [parsed for parsed in days.values() if parsed is not None]
    if not dated:
        return dict(usage)
    oldest_kept = max(dated) - timedelta(days=RETENTION_DAYS - 1)
    return {
        ident: record
        for ident, record in usage.items()
        if (parsed := days[ident[1]]) is None or parsed >= oldest_kept
    }


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable. Some filesystems refuse to open or fsync a
    # directory; the data is already safe in the file, so that is not an error.
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def copy_snapshot(snapshot: Snapshot) -> Snapshot:
    """A copy sharing nothing mutable (records are frozen, so copying the dicts is enough)."""
    return Snapshot(
        saved_at=snapshot.saved_at,
        keys=dict(snapshot.keys),
        scopes=dict(snapshot.scopes),
        usage=dict(snapshot.usage),
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)
