"""The rules behind the admin API and metrics that have no server in them: an operator's
disable outranks anything in flight, overrides are bounded, metric labels stay bounded,
identifiers from upstream errors cannot carry a secret, the store takes one operation at
a time."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.unit.test_pool import NOON_UTC, lend, make_pool
from trioproxy.admin import actions
from trioproxy.errors import InvalidRequest
from trioproxy.observability.metrics import MAX_MODELS, Metrics
from trioproxy.pool import AuthFailure, Success, Transient
from trioproxy.pool.blocks import describe, iter_blocks
from trioproxy.providers.gemini.failures import classify_error
from trioproxy.secret import Secret
from trioproxy.state.snapshot import KeyRecord, Snapshot, UsageRecord
from trioproxy.state.store import StateStore

MODEL = "gemini-2.5-flash"


def test_an_operators_disable_outlasts_a_passing_probe_and_a_live_401() -> None:
    pool = make_pool("a", breaker_threshold=1, auth_recheck=60.0)
    key = pool.by_name["a"]
    live = lend(pool)  # a call already out when the operator acts
    pool.report(live, Transient("503"), now=0.0, wall=NOON_UTC)  # opens the breaker
    pool.release(live, 0.0)
    (probe,) = pool.claim_probes(10.0)  # the half-open trial probe goes out...
    actions.disable(pool, key, "billing")  # ...and the operator disables the key
    pool.report(probe, Success(), now=12.0, wall=NOON_UTC)
    pool.release(probe, 12.0)
    assert key.disabled == "admin: billing"
    # A live 401 on the key cannot turn it into an auth disable the re-check would lift.
    pool._disable_for_auth(key, AuthFailure("API_KEY_INVALID"), 13.0)
    assert key.disabled == "admin: billing"
    assert pool.claim_probes(10_000.0) == []  # nothing re-checks an operator's disable
    # Clients see that an operator did it, not the operator's words.
    blocks = list(iter_blocks(key, MODEL, 14.0, NOON_UTC, ()))
    assert describe(key, blocks, 14.0)["reason"] == "admin"
    actions.enable(pool, key)
    assert key.disabled is None


@pytest.mark.parametrize(
    "body",
    [{"priority": 2**63}, {"priority": -1}, {"priority": True}, {"weight": 0},
     {"weight": 1e300}, {"weight": float("nan")}, {"weight": "2"}, {"colour": "red"}, []],
)  # fmt: skip
def test_overrides_out_of_bounds_are_refused(body: object) -> None:
    with pytest.raises(InvalidRequest):
        actions.parse_override(body, None)


def test_an_override_field_left_out_keeps_its_value_and_null_clears_it() -> None:
    first = actions.parse_override({"weight": 2, "priority": 1}, None)
    assert first is not None
    assert actions.parse_override({"priority": None}, first) == type(first)(2.0, None)
    assert actions.parse_override({"weight": None, "priority": None}, first) is None


def test_only_served_models_claim_a_metrics_label() -> None:
    metrics = Metrics()
    for index in range(MAX_MODELS + 5):
        assert metrics.model_label(f"bogus-{index}", served=False) == "other"
    assert metrics.model_label(MODEL, served=True) == MODEL
    for index in range(MAX_MODELS):
        metrics.model_label(f"real-{index}", served=True)
    assert metrics.model_label("one-too-many", served=True) == "other"
    assert metrics.model_label(MODEL, served=False) == MODEL  # once claimed, kept


def test_identifiers_in_an_upstream_error_cannot_carry_a_secret() -> None:
    secret = Secret("ya29.token-of-mine")
    google_key = "AIza" + "K" * 35
    body = {
        "error": {
            "code": 403,
            "status": google_key,
            "message": "denied",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ya29.token-of-mine",
                }
            ],
        }
    }
    failure = classify_error(403, json.dumps(body), secret=secret)
    shown = repr(failure.outcome) + repr(failure.error.envelope())
    assert google_key not in shown
    assert "ya29.token-of-mine" not in shown
    assert isinstance(failure.outcome, AuthFailure)


def test_the_store_takes_one_operation_at_a_time(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.open()
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            for index in range(150):
                name = f"{prefix}{index}"
                batch = Snapshot(saved_at=float(index), keys={name: KeyRecord(name, "fp")})
                batch.usage[(name, "2026-11-29")] = UsageRecord(name, "2026-11-29", index)
                if prefix == "r" and index % 25 == 0:
                    store.replace(batch)
                else:
                    store.write(batch)
        except BaseException as error:  # pragma: no cover - the failure being tested
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("w", "r")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    status = store.status
    store.close()
    assert (status.kind, status.write_failures) == ("sqlite", 0)
