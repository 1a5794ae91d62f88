"""GeminiSSEParser, checked the h11 `tr()` way: each body whole, one byte at a time, split at
every offset, and followed by trailing data or garbage."""

from __future__ import annotations

import json

import pytest

from tests.unit.gemini_payloads import BASIC_PAYLOADS, BLOCKED_PAYLOAD, FUNCTION_CALL_PAYLOAD
from trioproxy.providers.gemini.sse import (
    NEED_DATA,
    DataEvent,
    ErrorTail,
    GeminiSSEParser,
    StreamProtocolError,
)

Event = DataEvent | ErrorTail

# The mid-stream error tail (reference 1.4 and 4.3): pretty-printed, not SSE framed.
ERROR_TAIL = (
    "{\n"
    '  "error": {\n'
    '    "code": 499,\n'
    '    "message": "The operation was cancelled.",\n'
    '    "status": "CANCELLED"\n'
    "  }\n"
    "}"
)


def sse(*payloads: str, sep: str = "\r\n\r\n") -> bytes:
    return "".join(f"data: {p}{sep}" for p in payloads).encode()


def run(chunks: list[bytes], *, eof: bool = True) -> list[Event]:
    parser = GeminiSSEParser()
    events: list[Event] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (event := parser.next_event()) is not NEED_DATA:
            assert isinstance(event, DataEvent | ErrorTail), event
            events.append(event)
    if eof:
        parser.feed_eof()
        while (event := parser.next_event()) is not None:
            assert isinstance(event, DataEvent | ErrorTail), event
            events.append(event)
        assert parser.next_event() is None  # stays finished
    return events


def tr(body: bytes, expected: list[Event], *, trailing: bool = True) -> None:
    assert run([body]) == expected
    assert run([body[i : i + 1] for i in range(len(body))]) == expected
    if len(body) < 4000:
        for i in range(1, len(body)):
            assert run([body[:i], body[i:]]) == expected, i
    if trailing:
        more = b'data: {"more": true}\r\n\r\n'
        assert run([body + more]) == [*expected, DataEvent('{"more": true}')]
        assert run([body, b"garbage\n"]) == [*expected, ErrorTail("garbage\n")]


def test_basic_reply_crlf() -> None:
    tr(sse(*BASIC_PAYLOADS), [DataEvent(p) for p in BASIC_PAYLOADS])
    # The payloads are what the translator will parse.
    assert json.loads(BASIC_PAYLOADS[2])["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize("sep", ["\n\n", "\r\r", "\r\n\r\n", "\r\n\n", "\n\r\n"])
def test_any_line_ending_delimits(sep: str) -> None:
    tr(sse(*BASIC_PAYLOADS, sep=sep), [DataEvent(p) for p in BASIC_PAYLOADS])


def test_function_call_and_prompt_blocked() -> None:
    tr(sse(FUNCTION_CALL_PAYLOAD), [DataEvent(FUNCTION_CALL_PAYLOAD)])
    tr(sse(BLOCKED_PAYLOAD), [DataEvent(BLOCKED_PAYLOAD)])


def test_mid_stream_error_tail() -> None:
    body = sse(*BASIC_PAYLOADS[:2]) + ERROR_TAIL.encode() + b"\n"
    expected: list[Event] = [
        DataEvent(BASIC_PAYLOADS[0]),
        DataEvent(BASIC_PAYLOADS[1]),
        ErrorTail(ERROR_TAIL),
    ]
    tr(body, expected)
    assert json.loads(ERROR_TAIL)["error"]["code"] == 499


def test_error_tail_reported_before_eof() -> None:
    # The dispatcher can react as soon as the JSON is complete, without waiting for close.
    parser = GeminiSSEParser()
    parser.feed(sse(BASIC_PAYLOADS[0]) + ERROR_TAIL.encode())
    assert parser.next_event() == DataEvent(BASIC_PAYLOADS[0])
    assert parser.next_event() == ErrorTail(ERROR_TAIL)
    assert parser.next_event() is NEED_DATA


def test_error_tail_brackets_in_strings() -> None:
    tail = '{"error": {"message": "bad } and \\" and ] { [", "code": 500}}'
    tr(sse("{}") + tail.encode() + b"\r\n", [DataEvent("{}"), ErrorTail(tail)])


def test_list_wrapped_error_tail() -> None:
    tail = '[{\n  "error": {\n    "code": 503\n  }\n}\n]'
    tr(tail.encode() + b"\n", [ErrorTail(tail)])


def test_comments_and_ignored_fields() -> None:
    body = (
        b": ping\r\n\r\nevent: message\r\nid: 7\r\nretry: 1000\r\n:comment\r\n"
        b'data: {"a": 1}\r\n\r\n: keep-alive\n\n'
    )
    tr(body, [DataEvent('{"a": 1}')])


def test_multi_line_data_and_space_rules() -> None:
    body = b'data: {"a":\r\ndata:1}\r\ndata\r\ndata:  x\r\n\r\n'
    # One leading space is stripped, a second is kept; a bare `data` adds an empty line.
    tr(body, [DataEvent('{"a":\n1}\n\n x')])


def test_empty_payload_is_dropped() -> None:
    tr(b"data:\r\n\r\ndata: \n\n\n\n", [])


def test_utf8_split_across_feeds() -> None:
    payload = '{"text": "Grüße, 世界 🌍"}'
    body = sse(payload)
    assert len(body) != len(sse(payload).decode())  # really multi-byte
    tr(body, [DataEvent(payload)])


def test_leading_bom_is_skipped() -> None:
    tr(b"\xef\xbb\xbf" + sse("{}"), [DataEvent("{}")])


def test_terminated_final_event_without_blank_line_is_delivered() -> None:
    tr(b'data: {"a": 1}\r\n', [DataEvent('{"a": 1}')], trailing=False)
    tr(b'data: {"a": 1}\r', [DataEvent('{"a": 1}')], trailing=False)


def test_unterminated_final_line() -> None:
    # Complete JSON with no line ending: delivered.
    tr(b'data: {"a": 1}', [DataEvent('{"a": 1}')], trailing=False)
    # Cut mid-event: reported raw, never mistaken for a clean end.
    tr(
        sse("{}") + b'data: {"candidates": [{"con',
        [DataEvent("{}"), ErrorTail('data: {"candidates": [{"con')],
        trailing=False,
    )
    # Ignorable fields without a line ending stay ignored.
    tr(b": ping", [], trailing=False)


def test_truncated_error_tail_at_eof() -> None:
    tr(
        sse("{}") + b'{\n  "error": {\n    "code": 5',
        [DataEvent("{}"), ErrorTail('{\n  "error": {\n    "code": 5')],
        trailing=False,
    )


def test_non_json_garbage_runs_to_eof() -> None:
    body = sse("{}") + b"<html>502 Bad Gateway</html>\r\ndata: {}\r\n\r\n"
    expected: list[Event] = [
        DataEvent("{}"),
        ErrorTail("<html>502 Bad Gateway</html>\r\ndata: {}\r\n\r\n"),
    ]
    tr(body, expected, trailing=False)


def test_unknown_field_line_is_raw() -> None:
    tr(b"foo: bar\n", [ErrorTail("foo: bar\n")], trailing=False)
    tr(b"dat\n", [ErrorTail("dat\n")], trailing=False)


def test_pending_event_flushed_before_tail() -> None:
    tr(b'data: {"a": 1}\r\n{"error": {}}', [DataEvent('{"a": 1}'), ErrorTail('{"error": {}}')])


def test_need_data_and_finish() -> None:
    parser = GeminiSSEParser()
    assert parser.next_event() is NEED_DATA
    parser.feed(b"data: {")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"}\r\n\r")
    assert parser.next_event() == DataEvent("{}")
    parser.feed(b"\n")
    assert parser.next_event() is NEED_DATA
    parser.feed_eof()
    assert parser.next_event() is None
    with pytest.raises(RuntimeError):
        parser.feed(b"data: {}\n\n")


def test_oversize_event_is_rejected() -> None:
    parser = GeminiSSEParser(max_event_size=1024)
    parser.feed(b"data: " + b"x" * 1000)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"x" * 100)
    with pytest.raises(StreamProtocolError):
        parser.next_event()
    with pytest.raises(StreamProtocolError):  # stays failed
        parser.next_event()
    assert issubclass(StreamProtocolError, ValueError)


def test_oversize_multi_line_event_and_raw_tail() -> None:
    parser = GeminiSSEParser(max_event_size=1024)
    parser.feed(b"data: " + b"x" * 600 + b"\ndata: " + b"y" * 600 + b"\n")
    with pytest.raises(StreamProtocolError):
        parser.next_event()
    parser = GeminiSSEParser(max_event_size=1024)
    parser.feed(b"{" + b" " * 2000)
    with pytest.raises(StreamProtocolError):
        parser.next_event()


def test_many_events_within_one_feed_are_not_oversize() -> None:
    body = sse(*(f'{{"i": {i}}}' for i in range(200)))
    assert len(body) > 2048
    parser = GeminiSSEParser(max_event_size=2048)
    parser.feed(body)
    got = []
    while isinstance(event := parser.next_event(), DataEvent):
        got.append(event)
    assert [json.loads(e.data)["i"] for e in got] == list(range(200))


def test_default_limit_is_16_mib() -> None:
    parser = GeminiSSEParser()
    parser.feed(b"data: " + b"x" * (16 * 1024 * 1024))
    with pytest.raises(StreamProtocolError):
        parser.next_event()
