"""Decision records: bounded, deduplicated skips, JSON-ready for the admin API."""

from __future__ import annotations

import json

from trioproxy.decisions import MAX_SKIPS, AttemptRecord, Decision, DecisionLog


def test_skips_are_counted_once_per_key_and_reason_and_the_list_is_bounded() -> None:
    decision = Decision("req-1", "/v1/chat/completions", "gemini-2.5-flash", 1.0)
    for _ in range(3):  # the request looked three times (it waited twice)
        decision.skip("a", "cooling")
    decision.skip("a", "open")
    for index in range(100):
        decision.skip(f"k{index}", "budget")
    assert decision.skipped_total == 102
    assert len(decision.skipped) == MAX_SKIPS
    assert decision.skipped[:2] == [("a", "cooling"), ("a", "open")]


def test_a_record_serialises_without_its_bookkeeping() -> None:
    decision = Decision("req-1", "/v1/embeddings", "gemini-embedding-001", 1.0)
    decision.skip("a", "cooling")
    decision.attempts.append(AttemptRecord("b", 5.0, ended=5.2, outcome="ok"))
    data = json.loads(json.dumps(decision.to_json()))
    assert "_seen" not in data
    assert data["skipped"] == [{"key": "a", "reason": "cooling"}]
    assert data["attempts"][0]["key"] == "b"


def test_the_log_keeps_the_most_recent_records() -> None:
    log = DecisionLog(size=3)
    for index in range(5):
        log.add(Decision(f"req-{index}", "/v1/models", "", float(index)))
    assert [d.request_id for d in log.recent()] == ["req-2", "req-3", "req-4"]
    assert [d.request_id for d in log.recent(1)] == ["req-4"]
