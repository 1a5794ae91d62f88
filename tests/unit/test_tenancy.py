"""Client access: rolling windows, the registry, validation, the SQLite access store, the
manager (store first, then the view; the usage writer) and `access.authenticate`/`admit`.
Time is explicit (`now`/`wall` arguments) or virtual (`autojump_clock`)."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trioproxy.access import INVALID_TOKEN, LOOPBACK_CALLER, RateLimitReached, admit, authenticate
from trioproxy.config.model import ClientSpec
from trioproxy.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from trioproxy.secret import Secret
from trioproxy.state.json_store import StoreError
from trioproxy.tenancy import model, validate
from trioproxy.tenancy.manager import Conflict, Manager, StoreUnavailable
from trioproxy.tenancy.model import Limits, Project, Token, Usage
from trioproxy.tenancy.registry import Grant, Refusal, Registry
from trioproxy.tenancy.secrets import digest
from trioproxy.tenancy.store import SCHEMA_VERSION, AccessStore
from trioproxy.tenancy.windows import SLOTS, RollingWindow

WALL = 1_700_000_000.0
HOUR_LATER = WALL + 3600.0
NONE = Limits()
RPM, RPH, TPD = "requests per minute", "requests per hour", "tokens per day"
A, B = ("token", "tok_a"), ("token", "tok_b")
BILLING = ("project", "billing")


def project(name: str = "billing", **fields: Any) -> Project:
    return Project(name, **fields)


def token(id_: str = "tok_a", owner: str = "billing", secret: str = "tp-a", **fields: Any) -> Token:
    fields.setdefault("expires_at", HOUR_LATER)
    return Token(id_, owner, digest(secret), **fields)


def grant_of(registry: Registry, secret: str, wall: float = WALL) -> Grant:
    grant = registry.authenticate(secret, wall)
    assert grant is not None
    return grant


def two_token_registry(project_limits: Limits = NONE, a_limits: Limits = NONE) -> Registry:
    return Registry(
        [project(limits=project_limits), project("other")],
        [token(limits=a_limits), token("tok_b", secret="tp-b"), token("tok_c", "other", "tp-c")],
    )


class Wall:
    def __init__(self) -> None:
        self.now = WALL

    def __call__(self) -> float:
        return self.now


class ScriptedStore(AccessStore):
    """Memory only; writes can be made to fail; usage writes are recorded with their time."""

    def __init__(self) -> None:
        super().__init__(None)
        self.failing = False
        self.usage_writes: list[tuple[float, dict[tuple[str, str], Usage]]] = []

    def check(self) -> None:
        if self.failing:
            raise StoreError("disk full")

    def put_project(self, project: Project) -> None:
        self.check()

    def put_token(self, token: Token) -> None:
        self.check()

    def delete_token(self, token_id: str) -> None:
        self.check()

    def delete_project(self, name: str) -> None:
        self.check()

    def write_usage(self, rows: dict[tuple[str, str], Usage]) -> None:
        self.check()
        self.usage_writes.append((trio.current_time(), rows))


# RollingWindow.


@pytest.mark.parametrize("limit", [1, 5, 30])
def test_window_never_admits_more_than_the_limit_in_any_span(limit: int) -> None:
    span, window, admitted = 60.0, RollingWindow(60.0), list[float]()
    for k in range(int(600 / 0.7) + 1):
        now = k * 0.7
        wait = window.wait(now, limit)
        if wait is None:
            window.add(now)
            admitted.append(now)
        else:
            assert 0.0 < wait <= span + span / SLOTS
    for start in admitted:
        inside = [t for t in admitted if start <= t <= start + span]
        assert len(inside) <= limit, (start, inside)
    assert len(admitted) >= limit * 9  # not starved: a new batch at least every 61 s


def test_wait_is_the_time_until_the_oldest_counted_slot_expires() -> None:
    window = RollingWindow(60.0)
    for _ in range(3):
        window.add(0.5)
    assert (window.wait(10.0, 3), window.wait(10.0, 4)) == (51.0, None)
    assert (window.wait(60.5, 3), window.wait(61.0, 3)) == (0.5, None)
    window.add(61.0)
    window.add(65.2, 2)
    # Three counted (slots 61 and 65): a limit of 2 needs two gone, i.e. slot 65's expiry.
    assert (window.wait(70.0, 2), window.wait(70.0, 3)) == (126.0 - 70.0, 122.0 - 70.0)


def test_counts_are_forgotten_one_slot_after_the_span() -> None:
    window = RollingWindow(3600.0)  # slots of 60 s
    window.add(30.0)
    assert [window.total(t) for t in (3630.0, 3659.9, 3660.0)] == [1, 1, 0]


def test_window_totals_token_amounts_and_ignores_zero() -> None:
    window = RollingWindow(86400.0)
    window.add(0.0, 0)
    window.add(0.0, -3)
    assert window.total(0.0) == 0
    for now, amount in ((1.0, 120), (1.5, 30), (2000.0, 7)):
        window.add(now, amount)
    assert window.total(2000.0) == 157
    assert window.wait(2000.0, 157) == 61 * 1440.0 - 2000.0
    assert window.wait(2000.0, 158) is None


# Registry.


def mixed_registry() -> Registry:
    return Registry(
        [project()],
        [
            token(name="deploy"),
            token("tok_n", secret="tp-n"),
            token("tok_r", secret="tp-r", revoked_at=WALL - 5),
            token("tok_e", secret="tp-e", expires_at=WALL),
            token("tok_o", "gone", "tp-o"),
        ],
    )


def test_unknown_revoked_expired_and_orphaned_tokens_are_refused() -> None:
    registry = mixed_registry()
    for secret in ("tp-nobody", "tp-r", "tp-o"):
        assert registry.authenticate(secret, WALL - 100) is None, secret
    assert registry.authenticate("tp-e", WALL - 0.001) is not None
    assert registry.authenticate("tp-e", WALL) is None


def test_a_valid_token_gives_its_grant_and_a_replaced_hash_is_forgotten() -> None:
    registry = Registry([project()], [token()])
    assert grant_of(registry, "tp-a") == Grant(registry.tokens["tok_a"], project())
    registry.put_token(token(secret="tp-new"))
    assert registry.authenticate("tp-a", WALL) is None
    assert grant_of(registry, "tp-new").token.id == "tok_a"
    assert list(registry.tokens) == ["tok_a"]


def test_token_limit_refuses_with_owner_label_value_and_wait() -> None:
    registry = two_token_registry(a_limits=Limits(requests_per_minute=2))
    grant = grant_of(registry, "tp-a")
    assert (registry.admit(grant, 0.0), registry.admit(grant, 1.0)) == (None, None)
    assert registry.admit(grant, 5.0) == Refusal("token tok_a", RPM, 2, 56.0, "requests")
    assert registry.admit(grant_of(registry, "tp-b"), 5.0) is None  # tok_a's own limit


def test_project_limit_counts_every_token_of_the_project() -> None:
    registry = two_token_registry(project_limits=Limits(requests_per_minute=3))
    a, b, c = (grant_of(registry, s) for s in ("tp-a", "tp-b", "tp-c"))
    assert [registry.admit(g, 0.0) for g in (a, b, a)] == [None, None, None]
    assert registry.admit(b, 2.0) == Refusal("project billing", RPM, 3, 59.0, "requests")
    assert registry.admit(c, 2.0) is None  # another project


def test_the_longer_refusal_wins() -> None:
    for project_limits, token_limits, owner in (
        (Limits(requests_per_hour=1), Limits(requests_per_minute=1), "project billing"),
        (Limits(requests_per_minute=1), Limits(1, 1), "token tok_a"),
    ):
        registry = two_token_registry(project_limits, token_limits)
        grant = grant_of(registry, "tp-a")
        assert registry.admit(grant, 0.0) is None
        assert registry.admit(grant, 10.0) == Refusal(owner, RPH, 1, 3650.0, "requests")


def test_a_refused_request_is_not_counted() -> None:
    registry = two_token_registry(Limits(requests_per_minute=5), Limits(requests_per_minute=3))
    a, b = grant_of(registry, "tp-a"), grant_of(registry, "tp-b")
    assert [registry.admit(a, 0.0) for _ in range(3)] == [None] * 3
    assert all(registry.admit(a, float(second)) for second in range(1, 61))
    # The project counted only a's three: b gets the two left.
    assert [registry.admit(b, 60.5) is None for _ in range(3)] == [True, True, False]
    # After the wait a gets exactly its three again.
    assert [registry.admit(a, 61.0) is None for _ in range(4)] == [True, True, True, False]


def test_tokens_per_day_counts_prompt_and_completion_tokens() -> None:
    registry = two_token_registry(a_limits=Limits(tokens_per_day=100))
    grant = grant_of(registry, "tp-a")
    registry.record(grant, (50, 0, 0), 0.0, WALL)
    registry.record(grant, (10, 39, 500), 5.0, WALL)  # reasoning is not counted again
    assert registry.admit(grant, 10.0) is None
    registry.record(grant, (0, 1, 0), 10.0, WALL)
    assert registry.admit(grant, 20.0) == Refusal("token tok_a", TPD, 100, 87820.0, "tokens")


def test_record_adds_to_token_and_project_totals_and_marks_them() -> None:
    registry = two_token_registry()
    a, b = grant_of(registry, "tp-a"), grant_of(registry, "tp-b")
    registry.record(a, (10, 20, 5), 0.0, WALL + 7)
    registry.record(a, (1, 2, 0), 1.0, WALL + 3)
    registry.record(b, (100, 0, 0), 2.0, WALL + 9)
    assert registry.usage_of(*A) == Usage(2, 11, 22, 5, WALL + 7)
    assert registry.usage_of(*B) == Usage(1, 100, 0, 0, WALL + 9)
    assert registry.usage_of(*BILLING) == Usage(3, 111, 22, 5, WALL + 9)
    assert registry.usage_of("token", "tok_c") == Usage()
    assert registry.dirty == {A, B, BILLING}


def test_removing_a_token_keeps_its_project_usage() -> None:
    registry = two_token_registry()
    registry.record(grant_of(registry, "tp-a"), (3, 4, 0), 0.0, WALL)
    registry.remove_token("tok_a")
    assert (registry.authenticate("tp-a", WALL), "tok_a" in registry.tokens) == (None, False)
    assert registry.usage_of(*A) == Usage()
    assert registry.usage_of(*BILLING) == Usage(1, 3, 4, 0, WALL)


def test_removing_a_project_removes_its_tokens() -> None:
    registry = two_token_registry()
    registry.record(grant_of(registry, "tp-a"), (3, 4, 0), 0.0, WALL)
    assert sorted(t.id for t in registry.remove_project("billing")) == ["tok_a", "tok_b"]
    assert list(registry.tokens) == ["tok_c"]
    assert registry.authenticate("tp-b", WALL) is None
    assert registry.authenticate("tp-c", WALL) is not None
    assert registry.usage_of(*BILLING) == Usage()
    assert (registry.active_tokens("billing", WALL), registry.active_tokens("other", WALL)) == (
        0,
        1,
    )


def test_grant_allows_models_by_glob_over_alias_or_resolved_name() -> None:
    assert Grant(token(), project()).allows_model("whatever-model")
    limited = Grant(token(), project(models=("gemini-2.5-*", "text-embedding-004")))
    names = [("gemini-2.5-flash",), ("fast", "gemini-2.5-pro"), ("text-embedding-004",)]
    assert all(limited.allows_model(*n) for n in names)
    names = [("gemini-1.5-pro",), ("fast", "gpt-4o"), ("Gemini-2.5-flash",)]
    assert not any(limited.allows_model(*n) for n in names)


# Validation.


def invalid(call: Any, *args: Any, **kwargs: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 400
    return caught.value


def test_project_names() -> None:
    for good in ("a", "billing", "team-1.prod_x", "0abc", "a" * 64):
        assert validate.project_name(good) == good
    for bad in ("", "Billing", "-x", ".x", "_x", "a" * 65, "has space", "a/b", 5, None):
        assert invalid(validate.project_name, bad).param == "name", bad
    assert invalid(validate.project_name, "X", "project").param == "project"


def test_unknown_fields_are_named() -> None:
    fields, tokens = validate.project_fields, validate.token_fields
    assert invalid(fields, {"name": "a", "colour": "red"}, creating=True).param == "colour"
    assert invalid(fields, {"name": "b"}, creating=False).param == "name"  # no renames
    assert invalid(tokens, {"project": "a", "scope": 1}, creating=True).param == "scope"
    assert invalid(tokens, {"project": "a"}, creating=False).param == "project"
    error = invalid(validate.limits, {"requests_per_day": 1}, NONE)
    assert error.param == "limits.requests_per_day"
    assert invalid(validate.object_body, ["not", "an", "object"]).param is None


def test_limit_values() -> None:
    for bad in (-1, 0, True, 1.5, "10", 10**12 + 1):
        error = invalid(validate.limits, {"requests_per_minute": bad}, NONE)
        assert error.param == "limits.requests_per_minute", bad
    assert invalid(validate.limits, [60], NONE).param == "limits"
    assert validate.limits({"tokens_per_day": 10**12}, NONE) == Limits(tokens_per_day=10**12)


def test_limits_merge_over_the_base_and_null_clears() -> None:
    base = Limits(60, 1000, 5000)
    assert validate.limits({"requests_per_hour": None}, base) == Limits(60, None, 5000)
    assert validate.limits({"tokens_per_day": 7}, base) == Limits(60, 1000, 7)
    assert (validate.limits({}, base), validate.limits(None, base)) == (base, NONE)
    # An update carries a patch, applied to the limits current when the change is made.
    patch = validate.project_fields({"limits": {"requests_per_minute": 5}}, creating=False)
    assert patch == {"limits": {"requests_per_minute": 5}}
    assert validate.apply_limits(patch["limits"], base) == Limits(5, 1000, 5000)
    assert validate.apply_limits(None, base) == NONE


def test_durations() -> None:
    expected: dict[Any, float] = {
        "90s": 90, "15m": 900, "12h": 43200, "30d": 2592000, "1d12h": 129600, " 2H ": 7200,
        "1.5h": 5400, 3600: 3600, 0.5: 0.5, "90": 90, "1.5": 1.5, "365d": model.MAX_TOKEN_LIFETIME,
    }  # fmt: skip
    assert {text: validate.duration(text) for text in expected} == expected


def test_bad_durations() -> None:
    bad_values: list[Any] = [
        0, -5, "0s", "abc", "5x", "90x", "-5m", "12h30", "", None, True, False, [60],
        math.inf, math.nan, "366d", model.MAX_TOKEN_LIFETIME + 1,
    ]  # fmt: skip
    for bad in bad_values:
        assert invalid(validate.duration, bad).param == "expires_in", bad
    assert invalid(validate.duration, "400d").message == "Tokens live at most 365 days."
    assert invalid(validate.duration, "1x", "ttl").param == "ttl"


def test_a_huge_integer_duration_is_a_400_not_a_crash() -> None:
    # json.loads turns a 400-digit number into a Python int; float() of it overflows.
    huge = json.loads("1" + "0" * 400)
    assert invalid(validate.duration, huge).param == "expires_in"


def test_metadata_and_pattern_shapes() -> None:
    body = {"name": "a", "metadata": {"team": "ml"}, "models": ["gemini-*"], "upstreams": None}
    assert validate.project_fields(body, creating=True) == {
        **body,
        "models": ("gemini-*",),
    }
    assert validate.project_fields({"metadata": None}, creating=False) == {"metadata": {}}
    many = {f"k{i}": "v" for i in range(51)}
    for bad_metadata in (["a"], {"k": 1}, many, {"k" * 101: "v"}, {"k": "v" * 1001}):
        error = invalid(validate.project_fields, {"metadata": bad_metadata}, creating=False)
        assert error.param == "metadata"
    for bad_patterns in ([], "gemini-*", [""], [1], ["m"] * 101, ["m" * 201]):
        error = invalid(validate.project_fields, {"upstreams": bad_patterns}, creating=False)
        assert error.param == "upstreams"
    error = invalid(validate.project_fields, {"description": 5}, creating=False)
    assert error.param == "description"


def test_token_fields() -> None:
    assert validate.token_fields({"project": "billing"}, creating=True) == {
        "project": "billing",
        "expires_in": model.DEFAULT_TOKEN_LIFETIME,
    }
    assert model.DEFAULT_TOKEN_LIFETIME == 30 * 86400.0
    body = {"name": "ci", "expires_in": "2h", "limits": {"requests_per_minute": 9}}
    fields = validate.token_fields(body, creating=False)
    assert fields == {"name": "ci", "expires_in": 7200.0, "limits": {"requests_per_minute": 9}}
    assert validate.token_fields({}, creating=False) == {}
    assert invalid(validate.token_fields, {"project": "Bad"}, creating=True).param == "project"


def test_check_upstreams() -> None:
    validate.check_upstreams(None, {"a"})
    validate.check_upstreams(("a",), {"a", "b"})
    error = invalid(validate.check_upstreams, ("c", "a", "b"), {"a"})
    assert error.param == "upstreams"
    assert error.message == "Unknown upstream(s) b, c; keys.yaml defines a."
    error = invalid(validate.check_upstreams, ("x",), set())
    assert error.message == "Unknown upstream(s) x; keys.yaml defines none."


# AccessStore.


def reopened(path: Path) -> tuple[list[Project], list[Token], dict[tuple[str, str], Usage]]:
    store = AccessStore(path)
    try:
        return store.open()
    finally:
        store.close()


def test_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "access.sqlite3"
    full = Project(
        "billing", "Bills", {"team": "fin"}, ("gemini-*",), ("eu", "us"),
        Limits(1, 2, 3), WALL, WALL + 5,
    )  # fmt: skip
    tokens = [
        Token("tok_a", "billing", "h" * 64, HOUR_LATER, "ci", Limits(None, 10, None), WALL),
        Token("tok_r", "open", "r" * 64, WALL + 9, None, NONE, WALL + 1, WALL + 2.5),
    ]
    usage = {A: Usage(3, 10, 20, 5, WALL + 4), ("project", "open"): Usage(1)}
    store = AccessStore(path)
    assert store.open() == ([], [], {})
    store.put_project(full)
    store.put_project(Project("open"))
    for t in tokens:
        store.put_token(t)
    store.write_usage(usage)
    store.close()
    projects, loaded_tokens, loaded_usage = reopened(path)
    assert sorted(projects, key=lambda p: p.name) == [full, Project("open")]
    assert sorted(loaded_tokens, key=lambda t: t.id) == tokens
    assert loaded_usage == usage


def test_store_deletes_a_project_with_its_tokens_and_usage(tmp_path: Path) -> None:
    path = tmp_path / "access.sqlite3"
    store = AccessStore(path)
    store.open()
    for name in ("billing", "other"):
        store.put_project(project(name))
    for t in (token(), token("tok_b", secret="tp-b"), token("tok_c", "other", "tp-c")):
        store.put_token(t)
    owners = [A, ("token", "tok_c"), BILLING, ("project", "other")]
    store.write_usage({owner: Usage(1) for owner in owners})
    store.delete_project("billing")
    store.delete_token("tok_c")
    store.close()
    assert reopened(path) == ([project("other")], [], {("project", "other"): Usage(1)})


def test_a_garbage_file_or_a_newer_schema_does_not_open(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"definitely not SQLite " * 200)
    with pytest.raises(StoreError, match="not a database"):
        AccessStore(garbage).open()
    newer = tmp_path / "newer.sqlite3"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        AccessStore(newer).open()


@pytest.mark.parametrize("unwritable", [True, False])
def test_memory_mode(tmp_path: Path, unwritable: bool) -> None:
    path: Path | None = None
    if unwritable:  # the data directory is a regular file: unwritable even for root
        (tmp_path / "file").write_text("a regular file, not a directory")
        path = tmp_path / "file" / "access.sqlite3"
    store = AccessStore(path)
    assert (store.open(), store.path) == (([], [], {}), None)
    store.put_project(project())
    store.put_token(token())
    store.write_usage({BILLING: Usage(1)})
    store.delete_token("tok_a")
    store.delete_project("billing")
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["file"] if unwritable else [])


# Manager.


def memory_manager(wall: Wall | None = None) -> Manager:
    return Manager.open(AccessStore(None), wall=wall or Wall())


def every_byte(directory: Path) -> bytes:
    return b"".join(file.read_bytes() for file in directory.iterdir())


async def test_create_conflicts_and_unknown_projects() -> None:
    manager = memory_manager()
    first = await manager.create_project({"name": "billing", "description": "one"})
    assert (first.created_at, first.updated_at) == (WALL, WALL)
    with pytest.raises(Conflict) as conflict:
        await manager.create_project({"name": "billing", "description": "two"})
    error = conflict.value
    assert (error.status, error.code, error.param) == (409, "already_exists", "name")
    assert manager.registry.projects["billing"] == first
    with pytest.raises(InvalidRequest) as unknown:
        await manager.create_token({"project": "nope", "expires_in": 60.0})
    assert (unknown.value.param, manager.registry.tokens) == ("project", {})


async def test_only_the_token_hash_is_stored(tmp_path: Path) -> None:
    store = AccessStore(tmp_path / "access.sqlite3")
    manager = Manager.open(store, wall=Wall())
    await manager.create_project({"name": "billing"})
    fields = {"project": "billing", "expires_in": 3600.0, "name": "ci"}
    created, secret = await manager.create_token(fields)
    store.close()
    assert (secret[:3], len(secret), created.hash) == ("tp-", 46, digest(secret))
    assert (created.created_at, created.expires_at) == (WALL, HOUR_LATER)
    assert grant_of(manager.registry, secret).token == created
    conn = sqlite3.connect(tmp_path / "access.sqlite3")
    cells = [
        str(cell)
        for table in ("projects", "tokens", "usage")
        for row in conn.execute(f"SELECT * FROM {table}")
        for cell in row
    ]
    conn.close()
    assert created.hash in cells
    assert not any(secret in cell for cell in cells)
    assert secret.encode() not in every_byte(tmp_path)


async def test_revocation_applies_to_the_next_authentication() -> None:
    wall = Wall()
    manager = memory_manager(wall)
    await manager.create_project({"name": "billing"})
    created, secret = await manager.create_token({"project": "billing", "expires_in": 3600.0})
    assert manager.registry.authenticate(secret, WALL) is not None
    wall.now = WALL + 10
    assert (await manager.revoke_token(created.id)).revoked_at == WALL + 10
    assert manager.registry.authenticate(secret, WALL + 10) is None
    wall.now = WALL + 20
    assert (await manager.revoke_token(created.id)).revoked_at == WALL + 10


async def test_update_token_expiry_counts_from_now() -> None:
    wall = Wall()
    manager = memory_manager(wall)
    await manager.create_project({"name": "billing"})
    created, secret = await manager.create_token({"project": "billing", "expires_in": 3600.0})
    wall.now = WALL + 1000
    updated = await manager.update_token(created.id, {"expires_in": 60.0, "name": "renamed"})
    assert updated == replace(created, expires_at=WALL + 1060, name="renamed")
    assert manager.registry.authenticate(secret, WALL + 1059.5) is not None
    assert manager.registry.authenticate(secret, WALL + 1060) is None


async def test_a_failed_write_changes_nothing() -> None:
    store = ScriptedStore()
    manager = Manager(store, Registry(), wall=Wall())
    await manager.create_project({"name": "billing"})
    created, secret = await manager.create_token({"project": "billing", "expires_in": 3600.0})
    projects, tokens = dict(manager.registry.projects), dict(manager.registry.tokens)
    store.failing = True
    attempts: list[Any] = [
        manager.create_project({"name": "other"}),
        manager.update_project("billing", {"description": "changed"}),
        manager.create_token({"project": "billing", "expires_in": 60.0}),
        manager.update_token(created.id, {"name": "changed"}),
    ]
    for attempt in attempts:
        with pytest.raises(StoreUnavailable) as caught:
            await attempt
        assert caught.value.status == 503
    assert (manager.registry.projects, manager.registry.tokens) == (projects, tokens)
    assert grant_of(manager.registry, secret).token == created


@pytest.mark.parametrize("operation", ["revoke", "delete token", "delete project"])
async def test_a_revocation_the_disk_refuses_still_refuses_the_token(operation: str) -> None:
    # Failing closed: a 503 says it was not saved, but the token is refused from now on,
    # and the call can be repeated once the disk is back.
    store = ScriptedStore()
    manager = Manager(store, Registry(), wall=Wall())
    await manager.create_project({"name": "billing"})
    created, secret = await manager.create_token({"project": "billing", "expires_in": 3600.0})
    calls = {
        "revoke": lambda: manager.revoke_token(created.id),
        "delete token": lambda: manager.delete_token(created.id),
        "delete project": lambda: manager.delete_project("billing"),
    }
    store.failing = True
    with pytest.raises(StoreUnavailable) as caught:
        await calls[operation]()
    assert "refused from now on" in caught.value.message
    assert manager.registry.authenticate(secret, WALL) is None
    store.failing = False
    await calls[operation]()  # the repeat saves it
    assert manager.registry.authenticate(secret, WALL) is None


async def test_a_slow_usage_write_does_not_hold_up_a_revocation(tmp_path: Path) -> None:
    release = threading.Event()

    class SlowUsage(AccessStore):
        def write_usage(self, rows: dict[tuple[str, str], Usage]) -> None:
            release.wait(30)  # the disk hangs on the usage write
            super().write_usage(rows)

    store = SlowUsage(tmp_path / "access.sqlite3")
    store.open()
    manager = Manager(store, Registry(), wall=Wall())
    await manager.create_project({"name": "billing"})
    created, secret = await manager.create_token({"project": "billing", "expires_in": 3600.0})
    manager.registry.record(grant_of(manager.registry, secret), (1, 2, 0), 0.0, WALL)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(manager.flush)
        await trio.testing.wait_all_tasks_blocked()  # the flush is stuck in its thread
        revoked = await manager.revoke_token(created.id)
        assert revoked.revoked_at == WALL
        assert manager.registry.authenticate(secret, WALL) is None
        release.set()
    assert manager.usage_writes == 1
    store.close()


async def test_flush_writes_usage_to_the_store(tmp_path: Path) -> None:
    path = tmp_path / "access.sqlite3"
    manager = Manager.open(AccessStore(path), wall=Wall())
    await manager.create_project({"name": "billing"})
    created, secret = await manager.create_token({"project": "billing", "expires_in": 3600.0})
    grant = grant_of(manager.registry, secret)
    manager.registry.record(grant, (10, 20, 3), 0.0, WALL + 1)
    manager.registry.record(grant, (1, 1, 0), 1.0, WALL + 2)
    await manager.flush()
    await manager.flush()  # nothing marked: nothing written
    assert (manager.usage_writes, manager.usage_write_failures) == (1, 0)
    assert manager.registry.dirty == set()
    manager.store.close()
    totals = Usage(2, 11, 21, 3, WALL + 2)
    assert reopened(path)[2] == {("token", created.id): totals, BILLING: totals}


async def test_a_failed_flush_keeps_the_usage_marked() -> None:
    store = ScriptedStore()
    manager = Manager(store, two_token_registry(), wall=Wall())
    manager.registry.record(grant_of(manager.registry, "tp-a"), (5, 6, 0), 0.0, WALL)
    store.failing = True
    await manager.flush()
    assert (manager.usage_writes, manager.usage_write_failures) == (0, 1)
    assert manager.registry.dirty == {A, BILLING}
    store.failing = False
    await manager.flush()
    assert (manager.usage_writes, manager.usage_write_failures) == (1, 1)
    assert manager.registry.dirty == set()
    [(_, rows)] = store.usage_writes
    assert rows == {A: Usage(1, 5, 6, 0, WALL), BILLING: Usage(1, 5, 6, 0, WALL)}


async def test_the_usage_writer_flushes_each_second(autojump_clock: trio.testing.MockClock) -> None:
    store = ScriptedStore()
    manager = Manager(store, two_token_registry(), wall=Wall())
    grant = grant_of(manager.registry, "tp-b")
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run)
        manager.registry.record(grant, (1, 0, 0), 0.0, WALL)
        await trio.sleep(3.5)
        manager.registry.record(grant, (2, 0, 0), 3.5, WALL + 3.5)
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    assert [(at, sorted(rows)) for at, rows in store.usage_writes] == [
        (1.0, [BILLING, B]),
        (4.0, [BILLING, B]),
    ]
    assert store.usage_writes[1][1][B] == Usage(2, 3, 0, 0, WALL + 3.5)


async def test_the_usage_writer_flushes_when_cancelled(tmp_path: Path) -> None:
    # The real clock: a worker thread (SQLite) under an autojumping clock would let the
    # clock race past the write's timeout. Cancelled at once: no periodic flush runs.
    path = tmp_path / "access.sqlite3"
    store = AccessStore(path)
    store.open()
    store.put_project(project())
    store.put_token(token())
    manager = Manager(store, Registry([project()], [token()]), wall=Wall())
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run)
        manager.registry.record(grant_of(manager.registry, "tp-a"), (7, 8, 9), 0.0, WALL)
        nursery.cancel_scope.cancel()
    assert manager.usage_writes == 1  # the final flush
    store.close()
    assert reopened(path)[2] == {A: Usage(1, 7, 8, 9, WALL), BILLING: Usage(1, 7, 8, 9, WALL)}


# access.authenticate / access.admit.

CLIENTS = [ClientSpec("ci", Secret("sk-ci")), ClientSpec("legacy", Secret("tp-legacy"))]


def test_a_project_token_authenticates() -> None:
    registry = mixed_registry()
    for clients in ([], CLIENTS):
        caller = authenticate(clients, "Bearer tp-a", "10.0.0.9", registry, WALL)
        assert caller.name == "deploy"
        assert caller.grant == Grant(registry.tokens["tok_a"], registry.projects["billing"])
    assert authenticate([], "Bearer tp-n", "10.0.0.9", registry, WALL).name == "tok_n"


def test_an_invalid_project_token_gets_one_answer() -> None:
    registry = mixed_registry()
    for presented in ("tp-unknown", "tp-r", "tp-e"):
        for clients, address in (([], "127.0.0.1"), (CLIENTS, "10.0.0.9")):
            with pytest.raises(AuthenticationFailed) as caught:
                authenticate(clients, f"Bearer {presented}", address, registry, WALL)
            assert (caught.value.message, caught.value.status) == (INVALID_TOKEN, 401)


def test_client_keys_and_loopback_work_beside_tokens() -> None:
    registry = mixed_registry()
    caller = authenticate(CLIENTS, "Bearer sk-ci", "10.0.0.9", registry, WALL)
    assert (caller.name, caller.grant) == ("ci", None)
    # A static key that happens to look like a token is still a static key.
    assert authenticate(CLIENTS, "Bearer tp-legacy", "10.0.0.9", registry, WALL).name == "legacy"
    with pytest.raises(AuthenticationFailed, match=r"^Incorrect API key provided\.$"):
        authenticate(CLIENTS, "Bearer sk-nope", "10.0.0.9", registry, WALL)
    assert authenticate([], None, "127.0.0.1", registry, WALL) is LOOPBACK_CALLER
    assert authenticate([], "Bearer sk-anything", "::1", registry, WALL) is LOOPBACK_CALLER
    with pytest.raises(PermissionDenied):
        authenticate([], None, "10.0.0.9", registry, WALL)


def refused(registry: Registry, grant: Grant, now: float) -> RateLimitReached:
    with pytest.raises(RateLimitReached) as caught:
        admit(registry, grant, now)
    assert (caught.value.status, caught.value.code) == (429, "rate_limit_exceeded")
    return caught.value


def test_admit_raises_429_with_headers() -> None:
    registry = two_token_registry(a_limits=Limits(requests_per_minute=1))
    grant = grant_of(registry, "tp-a")
    admit(registry, grant, 0.5)
    error = refused(registry, grant, 10.25)  # 50.75 s to wait: 51 whole seconds
    assert error.headers == {
        "retry-after": "51",
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "51s",
    }
    message = "Rate limit reached for token tok_a on requests per minute: limit 1. Please"
    assert error.envelope()["error"] == {
        "message": f"{message} try again in 51s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert refused(registry, grant, 60.9).headers["retry-after"] == "1"  # 0.1 s: never 0
    admit(registry, grant, 61.0)


def test_admit_names_a_token_limit_in_tokens() -> None:
    registry = two_token_registry(project_limits=Limits(tokens_per_day=1000))
    grant = grant_of(registry, "tp-b")
    registry.record(grant, (600, 400, 0), 0.0, WALL)
    error = refused(registry, grant, 40.0)
    wait = str(61 * 1440 - 40)
    assert error.headers == {
        "retry-after": wait,
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": f"{wait}s",
    }
    assert error.envelope()["error"]["type"] == "tokens"
    assert "project billing on tokens per day: limit 1000" in error.message


def test_a_request_of_a_deleted_project_does_not_charge_one_made_anew() -> None:
    registry = Registry([project()], [token()])
    grant = grant_of(registry, "tp-a")
    registry.remove_project("billing")
    registry.put_project(replace(project(), created_at=project().created_at + 60))
    registry.record(grant, (5, 5, 0), 0.0, WALL)  # the old project's request ends now
    assert registry.usage_of("project", "billing") == Usage()
    assert registry.dirty == set()
