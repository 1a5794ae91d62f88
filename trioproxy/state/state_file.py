"""`trioproxy state export|import`: the saved pool state as a portable JSON document.

Export reads the data directory without locking it, so it works while a gateway runs
(SQLite in WAL mode serves readers beside the writer). Import replaces the saved state
and needs the directory to itself: a running gateway would overwrite the import with
its own state within a second, so the lock refuses it and says why.

The document holds no secrets: keys are named and fingerprinted (trioproxy.secret). On
import, state is restored only into keys with the same name *and* fingerprint; a key
whose secret differs starts fresh (trioproxy.state.capture).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from trioproxy.state.snapshot import Snapshot, SnapshotError
from trioproxy.state.store import StateStore, StoreError, StoreLocked, read_state


def run(action: str, file: str, data_dir: Path) -> int:
    try:
        if action == "export":
            return _export(file, data_dir)
        return _import(file, data_dir)
    except (OSError, StoreError, SnapshotError, ValueError) as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2


def _export(file: str, data_dir: Path) -> int:
    snapshot = read_state(data_dir)
    text = json.dumps(snapshot.to_json(), indent=2, sort_keys=True) + "\n"
    if file == "-":
        sys.stdout.write(text)
    else:
        Path(file).write_text(text, encoding="utf-8")
    print(f"exported the state of {_summary(snapshot)} from {data_dir}", file=sys.stderr)
    return 0


def _import(file: str, data_dir: Path) -> int:
    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise SnapshotError(f"{file}: not JSON ({error})") from None
    snapshot = Snapshot.from_json(document)
    # Newer than any JSON fallback left from a degraded run, which would otherwise be
    # merged over the import at the next start.
    snapshot.saved_at = time.time()
    store = StateStore(data_dir)
    try:
        store.open()
    except StoreLocked as error:
        raise StoreLocked(
            f"{error}; stop it before importing (it would overwrite the import)"
        ) from None
    try:
        store.replace(snapshot)
        status = store.status
    finally:
        store.close()
    if status.write_failures:
        print(f"trioproxy: the import could not be written: {status.reason}", file=sys.stderr)
        return 2
    where = f"{status.kind} at {status.location}"
    print(f"imported the state of {_summary(snapshot)} into {where}", file=sys.stderr)
    return 0


def _summary(snapshot: Snapshot) -> str:
    cooldowns = sum(len(scope.cooldowns) for scope in snapshot.scopes.values())
    return f"{len(snapshot.keys)} keys ({cooldowns} cooldowns, {len(snapshot.usage)} usage rows)"
