"""The state stores: SQLite and JSON round trips and batch semantics, schema migrations,
and the facade's degradations (newer schema, damaged file, read-only directory, a write
failure mid-run), the directory lock and the read-only `read_state`."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from trioproxy.state import sqlite_store
from trioproxy.state.json_store import RETENTION_DAYS, JsonStore
from trioproxy.state.snapshot import (
    BudgetRecord,
    CooldownRecord,
    KeyRecord,
    ScopeRecord,
    Snapshot,
    UsageRecord,
)
from trioproxy.state.sqlite_store import MIGRATIONS, SqliteStore
from trioproxy.state.store import StateStore, StoreError, StoreLocked, read_state

Store = SqliteStore | JsonStore


def rich(saved_at: float = 1000.5) -> Snapshot:
    keys = [
        KeyRecord("alpha", "fp-alpha"),
        KeyRecord(
            "beta",
            "fp-beta",
            disabled="invalid key",
            auth_recheck_at=1234.25,
            breaker="open",
            failures=3,
            opens=2,
            reopen_at=1300.125,
            health=((900.0, 10, 1), (960.0, 4, 0)),
            last_model="gemini-2.5-flash",
        ),
    ]
    scopes = {
        "project:p1": ScopeRecord(
            cooldowns=(
                CooldownRecord("gemini-2.5-pro", "rpd", 5000.0, ("PerDay", "Other"), "429"),
                CooldownRecord("gemini-2.5-flash", "rpm", 1060.5),
            ),
            budgets=(
                BudgetRecord("gemini-2.5-pro", (990.0, 995.5), ((990.0, 120), (995.5, 7)), "d", 9),
                BudgetRecord("gemini-2.5-flash"),
            ),
        ),
        "key:alpha": ScopeRecord(cooldowns=(CooldownRecord("m", "tpm", 1100.0),)),
    }
    usage = [
        UsageRecord("alpha", "2025-03-01", 10, 1, 2, 300, 400),
        UsageRecord("alpha", "2025-03-02", 5),
        UsageRecord("beta", "2025-03-02", 7, 7, 7, 0, 0),
    ]
    return Snapshot(
        saved_at=saved_at,
        keys={k.name: k for k in keys},
        scopes=scopes,
        usage={(u.key, u.day): u for u in usage},
    )


def opened(kind: str, path: Path) -> Store:
    store: Store
    if kind == "sqlite":
        store = sqlite = SqliteStore(path / "state.sqlite3")
        sqlite.open()
    else:
        store = JsonStore(path / "state.json")
    store.load()
    return store


def reloaded(kind: str, path: Path) -> Snapshot:
    store = opened(kind, path)
    try:
        return store.load()
    finally:
        store.close()


def json_file(path: Path) -> Snapshot:
    return Snapshot.from_json(json.loads(path.read_text()))


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# --- the backends ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_a_rich_snapshot_round_trips(kind: str, tmp_path: Path) -> None:
    store = opened(kind, tmp_path)
    store.write(rich())
    store.close()
    assert reloaded(kind, tmp_path) == rich()

    store = opened(kind, tmp_path)
    store.replace(Snapshot(saved_at=5.0, keys={"z": KeyRecord("z", "fp-z")}))
    store.close()
    assert reloaded(kind, tmp_path) == Snapshot(saved_at=5.0, keys={"z": KeyRecord("z", "fp-z")})


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_a_batch_replaces_only_what_it_lists(kind: str, tmp_path: Path) -> None:
    store = opened(kind, tmp_path)
    store.write(rich(saved_at=1000.0))
    beta = KeyRecord("beta", "fp-beta", failures=9)
    budget = BudgetRecord("gemini-2.5-pro", (1500.0,), (), "d", 1)
    store.write(
        Snapshot(
            saved_at=900.0,  # older than the state: saved_at never goes back
            keys={"beta": beta},
            scopes={
                "project:p1": ScopeRecord(cooldowns=(), budgets=(budget,)),
                "key:alpha": ScopeRecord(),  # every cooldown gone
            },
            usage={("beta", "2025-03-02"): UsageRecord("beta", "2025-03-02", 8)},
        )
    )
    store.close()
    state = reloaded(kind, tmp_path)
    before = rich()
    assert state.saved_at == 1000.0
    assert state.keys == {"alpha": before.keys["alpha"], "beta": beta}
    assert state.scopes["project:p1"] == ScopeRecord(budgets=(budget,))
    assert state.scopes.get("key:alpha", ScopeRecord()) == ScopeRecord()
    assert state.usage == {
        **before.usage,
        ("beta", "2025-03-02"): UsageRecord("beta", "2025-03-02", 8),
    }


def test_migrations_run_once_and_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    store.open()
    store.write(rich())
    store.close()
    assert user_version(path) == len(MIGRATIONS)

    # A further migration that would fail if it ran twice (a primary key conflict).
    second = "CREATE TABLE extra (x INTEGER PRIMARY KEY);\nINSERT INTO extra VALUES (1);\n"
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [*MIGRATIONS, second])
    for _ in range(2):
        store = SqliteStore(path)
        store.open()
        assert store.load() == rich()
        store.close()
    assert user_version(path) == len(MIGRATIONS) + 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM extra").fetchone() == (1,)
    conn.close()


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.sqlite3"
    broken = "CREATE TABLE half (x);\nINSERT INTO no_such_table VALUES (1);\n"
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StoreError, match="no_such_table"):
        SqliteStore(path).open()
    assert user_version(path) == len(MIGRATIONS)
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "keys" in tables
    assert "half" not in tables


def test_damaged_pages_are_found_at_open(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    store.open()
    usage = {(f"k{i}", "2025-01-01"): UsageRecord(f"k{i}", "2025-01-01", i) for i in range(2000)}
    store.write(Snapshot(usage=usage))
    store.close()
    data = bytearray(path.read_bytes())
    data[8192:16384] = b"\xab" * 8192  # the header and sqlite_master (page 1) stay intact
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="malformed"):
        SqliteStore(path).open()


def test_json_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    store = JsonStore(path)
    store.load()
    for i in range(5):
        store.write(Snapshot(saved_at=float(i), keys={f"k{i}": KeyRecord(f"k{i}", "fp")}))
        assert os.listdir(tmp_path) == ["state.json"]  # no temporary file left behind
        assert set(json_file(path).keys) == {f"k{n}" for n in range(i + 1)}
    before = path.read_bytes()

    def fail(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StoreError, match="No space left"):
        store.write(Snapshot(keys={"late": KeyRecord("late", "fp")}))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["state.json"]


def test_an_invalid_json_document_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"format": "something else"}')
    with pytest.raises(StoreError, match="not a valid state document"):
        JsonStore(tmp_path / "state.json").load()
    assert JsonStore(tmp_path / "missing.json").load() == Snapshot()


def test_json_keeps_the_last_31_days_of_usage(tmp_path: Path) -> None:
    newest = date(2025, 3, 31)
    days = [(newest - timedelta(days=n)).isoformat() for n in range(40)]
    usage = {("k", day): UsageRecord("k", day, 1) for day in [*days, "not-a-day"]}
    store = JsonStore(tmp_path / "state.json")
    store.write(Snapshot(usage=usage))
    kept = {day for _, day in json_file(tmp_path / "state.json").usage}
    assert kept == {*days[:RETENTION_DAYS], "not-a-day"}
    assert days[RETENTION_DAYS - 1] == "2025-03-01"  # the oldest kept: 30 days before
    assert store.load().usage.keys() == {("k", day) for day in kept}


# --- the facade --------------------------------------------------------------------------


@pytest.fixture
def fallback(tmp_path: Path) -> Path:
    return tmp_path / "fallback"


def gateway(data: Path, fallback: Path) -> StateStore:
    return StateStore(data, fallback_dir=fallback)


def test_the_facade_uses_sqlite_and_restores_what_it_wrote(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    store = gateway(data, fallback)
    assert store.open() == Snapshot()
    store.write(rich())
    store.write(Snapshot(saved_at=2000.0, keys={"gamma": KeyRecord("gamma", "fp")}))
    status = store.status
    assert (status.kind, status.degraded, status.reason) == ("sqlite", False, None)
    assert (status.writes, status.write_failures) == (2, 0)
    assert status.location == str(data / "state.sqlite3")
    copy = store.snapshot()
    copy.keys.clear()  # a copy: the store's state is not touched
    store.close()

    expected = rich(saved_at=2000.0)
    expected.keys["gamma"] = KeyRecord("gamma", "fp")
    store = gateway(data, fallback)
    assert store.open() == expected
    assert store.snapshot() == expected
    store.close()
    assert not (data / "state.json").exists()
    assert not fallback.exists()


def make_sqlite(data: Path, snapshot: Snapshot) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data / "state.sqlite3")
    store.open()
    store.write(snapshot)
    store.close()
    return data / "state.sqlite3"


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    path = make_sqlite(data, rich())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    original = path.read_bytes()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        SqliteStore(path).open()

    store = gateway(data, fallback)
    assert store.open() == Snapshot()
    status = store.status
    assert (status.kind, status.degraded) == ("json", True)
    assert status.location == str(data / "state.json")
    assert status.reason is not None
    assert "version 99" in status.reason
    store.write(rich())
    store.close()
    assert path.read_bytes() == original
    assert user_version(path) == 99
    assert json_file(data / "state.json") == rich()


def test_a_corrupt_file_falls_back_to_json_and_is_left_untouched(
    tmp_path: Path, fallback: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    garbage = b"this is not a database, just bytes\x00\xff" * 200
    (data / "state.sqlite3").write_bytes(garbage)
    store = gateway(data, fallback)
    store.open()
    assert store.status.kind == "json"
    assert "file is not a database" in (store.status.reason or "")
    store.write(rich())
    store.close()
    assert (data / "state.sqlite3").read_bytes() == garbage
    assert json_file(data / "state.json") == rich()

    # The next run is degraded too, and restores what the JSON file holds.
    store = gateway(data, fallback)
    assert store.open() == rich()
    assert store.status.kind == "json"
    store.close()


def test_a_json_file_that_is_not_ours_is_not_overwritten(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "state.sqlite3").write_bytes(b"garbage" * 100)
    (data / "state.json").write_text("an operator's notes, not a state document")
    store = gateway(data, fallback)
    store.open()
    assert store.status.location == str(fallback / "state.json")
    store.write(rich())
    store.close()
    assert (data / "state.json").read_text() == "an operator's notes, not a state document"
    assert json_file(fallback / "state.json") == rich()


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory nothing can be written in. chmod does not stop root, so when it
    is ineffective the refusals are simulated at the calls the stores make."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        (data / "probe").touch()
    except PermissionError:
        pass
    else:
        (data / "probe").unlink()
        refuse_writes_under(data, monkeypatch)
    yield data
    data.chmod(0o755)


def refuse_writes_under(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def inside(path: object) -> bool:
        return Path(str(path)).resolve().is_relative_to(data.resolve())

    def refuse(real: Callable[..., Any], where: Callable[..., object]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if inside(where(*args, **kwargs)):
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(*args, **kwargs)

        return call

    real_connect = sqlite3.connect

    def connect(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("uri") and inside(path):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(path, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(os, "open", refuse(os.open, lambda path, *a, **k: path))
    monkeypatch.setattr(
        tempfile, "mkstemp", refuse(tempfile.mkstemp, lambda *a, dir=None, **k: dir)
    )


def test_a_read_only_data_dir_falls_back_to_the_fallback_dir(
    read_only: Path, fallback: Path
) -> None:
    store = gateway(read_only, fallback)
    assert store.open() == Snapshot()
    status = store.status
    assert (status.kind, status.degraded) == ("json", True)
    assert status.location == str(fallback / "state.json")
    assert "unable to open database file" in (status.reason or "")
    store.write(rich())
    store.close()
    assert json_file(fallback / "state.json") == rich()
    assert sorted(os.listdir(read_only)) == []

    store = gateway(read_only, fallback)
    assert store.open() == rich()
    store.close()
    assert read_state(read_only, fallback_dir=fallback) == rich()


def test_a_sqlite_write_failure_moves_the_whole_state_to_json(
    tmp_path: Path, fallback: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    store = gateway(data, fallback)
    store.open()
    store.write(rich())
    calls: list[Snapshot] = []

    def disk_full(self: SqliteStore, batch: Snapshot) -> None:
        calls.append(batch)
        raise StoreError("database or disk is full (disk full)")

    monkeypatch.setattr(SqliteStore, "write", disk_full)
    late = Snapshot(saved_at=3000.0, keys={"late": KeyRecord("late", "fp")})
    store.write(late)  # does not raise
    status = store.status
    assert (status.kind, status.location) == ("json", str(data / "state.json"))
    assert "disk full" in (status.reason or "")
    assert (status.writes, status.write_failures) == (2, 1)
    expected = rich(saved_at=3000.0)
    expected.keys["late"] = KeyRecord("late", "fp")
    assert json_file(data / "state.json") == expected  # the batch before is in there too

    later = Snapshot(usage={("late", "2025-03-03"): UsageRecord("late", "2025-03-03", 1)})
    store.write(later)
    assert len(calls) == 1  # SQLite is not tried again while degraded
    expected.merge(later)
    assert json_file(data / "state.json") == expected
    assert store.status.writes == 3
    store.close()

    monkeypatch.undo()
    store = gateway(data, fallback)  # a restart: SQLite is healthy, the JSON is newer
    assert store.open() == expected
    assert store.status.kind == "sqlite"
    store.close()
    assert reloaded("sqlite", data) == expected


def test_when_nothing_is_writable_the_state_stays_in_memory(
    tmp_path: Path, fallback: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    store = gateway(data, fallback)
    store.open()
    broken = {"sqlite": True, "json": True}

    def sqlite_write(self: SqliteStore, batch: Snapshot) -> None:
        raise StoreError("disk I/O error")

    real_dump = JsonStore._dump

    def json_dump(self: JsonStore) -> None:
        if broken["json"]:
            raise StoreError("No space left on device")
        real_dump(self)

    monkeypatch.setattr(SqliteStore, "write", sqlite_write)
    monkeypatch.setattr(JsonStore, "_dump", json_dump)
    store.write(rich())
    store.write(Snapshot(keys={"x": KeyRecord("x", "fp")}))
    status = store.status
    assert (status.kind, status.degraded, status.location) == ("memory", True, "")
    assert (status.writes, status.write_failures) == (0, 2)
    assert "disk I/O error" in (status.reason or "")

    broken["json"] = False  # space freed: the next write lands in JSON, whole
    store.write(Snapshot(keys={"y": KeyRecord("y", "fp")}))
    assert store.status.kind == "json"
    assert (store.status.writes, store.status.write_failures) == (1, 2)
    assert set(json_file(data / "state.json").keys) == {"alpha", "beta", "x", "y"}
    store.close()


def test_replace_swaps_the_whole_state(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    store = gateway(data, fallback)
    with pytest.raises(RuntimeError, match="not open"):
        store.write(rich())  # before open(): it would write without the lock
    store.open()
    store.write(rich())
    imported = Snapshot(saved_at=7.0, keys={"only": KeyRecord("only", "fp")})
    store.replace(imported)
    assert store.snapshot() == imported
    store.close()
    assert reloaded("sqlite", data) == imported


def test_a_second_store_on_the_same_dir_is_locked_out(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    first = gateway(data, fallback)
    first.open()
    assert (data / "trioproxy.lock").read_text().strip() == str(os.getpid())
    second = gateway(data, fallback)
    with pytest.raises(
        StoreLocked, match=f"in use by another trioproxy process \\(pid {os.getpid()}\\)"
    ):
        second.open()
    first.close()
    second.open()
    second.close()


def test_the_lock_holds_across_processes(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    code = (
        "import sys; from pathlib import Path; from trioproxy.state.store import StateStore\n"
        "s = StateStore(Path(sys.argv[1]), fallback_dir=Path(sys.argv[2])); s.open()\n"
        "print('ready', flush=True); sys.stdin.read(); s.close()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(data), str(fallback)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked, match=f"pid {child.pid}"):
            gateway(data, fallback).open()
    finally:
        child.communicate("", timeout=30)
    store = gateway(data, fallback)
    store.open()
    store.close()


def test_read_state_works_while_a_gateway_holds_the_lock(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    assert read_state(data, fallback_dir=fallback) == Snapshot()
    assert not data.exists()  # reading creates nothing
    store = gateway(data, fallback)
    store.open()
    store.write(rich())
    assert read_state(data, fallback_dir=fallback) == rich()
    store.write(Snapshot(saved_at=5000.0, keys={"new": KeyRecord("new", "fp")}))
    assert read_state(data, fallback_dir=fallback) == store.snapshot()
    store.close()


def test_read_state_prefers_the_newer_of_sqlite_and_json(tmp_path: Path, fallback: Path) -> None:
    data = tmp_path / "data"
    make_sqlite(data, rich(saved_at=100.0))
    newer = Snapshot(saved_at=200.0, keys={"j": KeyRecord("j", "fp")})
    fallback.mkdir()
    JsonStore(fallback / "state.json").replace(newer)
    assert read_state(data, fallback_dir=fallback) == newer
    JsonStore(fallback / "state.json").replace(Snapshot(saved_at=50.0))
    assert read_state(data, fallback_dir=fallback) == rich(saved_at=100.0)


def test_a_newer_json_snapshot_beats_an_older_sqlite_at_open(
    tmp_path: Path, fallback: Path
) -> None:
    data = tmp_path / "data"
    make_sqlite(data, rich(saved_at=100.0))
    beta = KeyRecord("beta", "fp-beta", failures=5)
    newer = Snapshot(saved_at=200.0, keys={"beta": beta}, scopes={"key:alpha": ScopeRecord()})
    JsonStore(data / "state.json").replace(newer)

    store = gateway(data, fallback)
    restored = store.open()
    assert store.status.kind == "sqlite"
    assert restored.saved_at == 200.0
    assert restored.keys == {"alpha": rich().keys["alpha"], "beta": beta}
    assert restored.scopes["key:alpha"] == ScopeRecord()
    assert restored.usage == rich().usage  # rows only SQLite had are kept
    store.close()
    on_disk = reloaded("sqlite", data)
    assert on_disk.keys == restored.keys
    assert on_disk.saved_at == 200.0

    # An older JSON snapshot is ignored.
    JsonStore(data / "state.json").replace(Snapshot(saved_at=150.0))
    store = gateway(data, fallback)
    assert store.open().keys == restored.keys
    store.close()


def saved_rich(tmp_path: Path, fallback: Path) -> Path:
    """A data directory whose SQLite state is `rich()`, its store closed."""
    data = tmp_path / "data"
    store = gateway(data, fallback)
    store.open()
    store.write(rich())
    store.close()
    return data


def test_a_fallback_dir_others_can_write_is_never_read(tmp_path: Path, fallback: Path) -> None:
    data = saved_rich(tmp_path, fallback)
    # Another local user plants a newer state in a world-writable fallback directory.
    fallback.mkdir()
    fallback.chmod(0o777)
    planted = Snapshot(saved_at=9e9, keys={"a": KeyRecord("a", "fp", disabled="auth: planted")})
    (fallback / "state.json").write_text(json.dumps(planted.to_json()))
    store = gateway(data, fallback)
    assert store.open() == rich()
    store.close()
    assert read_state(data, fallback_dir=fallback) == rich()
    fallback.chmod(0o700)  # ours alone: now it counts
    assert read_state(data, fallback_dir=fallback).keys["a"].disabled == "auth: planted"


def test_a_database_that_cannot_be_written_is_still_restored_from(
    tmp_path: Path, fallback: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = saved_rich(tmp_path, fallback)
    open_for_writing = SqliteStore.open

    def read_only_directory(self: SqliteStore) -> None:
        if not self.readonly:
            raise StoreError("attempt to write a readonly database")
        open_for_writing(self)

    monkeypatch.setattr(SqliteStore, "open", read_only_directory)
    store = gateway(data, fallback)
    assert store.open() == rich()
    assert store.status.kind == "json"
    store.close()


def test_a_version_1_database_is_migrated_with_its_rows_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.sqlite3"
    first = rich()
    # What the first release wrote: schema 1, records without the override columns.
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:1])
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    record = first.keys["alpha"]
    conn.execute(
        "INSERT INTO keys (name, fingerprint, breaker, failures, opens, health) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (record.name, record.fingerprint, record.breaker, 2, 1, "[]"),
    )
    conn.commit()
    conn.close()
    monkeypatch.undo()
    store = SqliteStore(path)
    store.open()
    loaded = store.load().keys["alpha"]
    store.close()
    assert user_version(path) == len(MIGRATIONS) == 2
    assert (loaded.failures, loaded.opens, loaded.weight, loaded.priority) == (2, 1, None, None)
