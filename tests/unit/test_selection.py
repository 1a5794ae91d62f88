"""Selection policies look at few keys per pick, whatever the pool size (the cost of a
pick is counted in `rank` calls, not timed)."""

from __future__ import annotations

import random

import pytest

from trioproxy.config.model import KeySpec
from trioproxy.pool.selection import LeastInflight, RoundRobin, Selector, Weighted
from trioproxy.pool.state import KeyState
from trioproxy.secret import Secret

POOL = 10_000


def keys(count: int = POOL) -> list[KeyState]:
    return [KeyState(KeySpec(f"k{i}", Secret(f"s{i}"), "g")) for i in range(count)]


def selectors(pool: list[KeyState]) -> list[Selector]:
    return [RoundRobin(pool), Weighted(pool, random.Random(1).random), LeastInflight(pool)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_pick_over_ten_thousand_usable_keys_looks_at_one(index: int) -> None:
    selector = selectors(keys())[index]
    looked: list[str] = []

    def rank(key: KeyState) -> int:
        looked.append(key.name)
        return 0

    for _ in range(100):
        looked.clear()
        assert selector.pick(rank) is not None
        assert len(looked) == 1


def test_least_inflight_skips_busy_keys_without_scanning_them() -> None:
    pool = keys()
    selector = LeastInflight(pool)
    for key in pool[:9_990]:  # almost every key is busy
        before, key.inflight = key.inflight, 3
        selector.load_changed(key, before)
    looked: list[str] = []

    def rank(key: KeyState) -> int:
        looked.append(key.name)
        return 0

    assert selector.pick(rank) is pool[9_990]
    assert looked == ["k9990"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_fallback_is_used_only_when_no_preferred_key_is_usable(index: int) -> None:
    selector = selectors(keys(5))[index]
    grades: dict[str, int | None] = {"k0": None, "k1": 1, "k2": None, "k3": 1, "k4": None}
    chosen = selector.pick(lambda key: grades[key.name])
    assert chosen is not None
    assert chosen.name in {"k1", "k3"}
    grades["k4"] = 0
    chosen = selector.pick(lambda key: grades[key.name])
    assert chosen is not None
    assert chosen.name == "k4"
    assert selector.pick(lambda key: None) is None
