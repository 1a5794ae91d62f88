"""An incremental, sans-IO parser for the body of Gemini's `streamGenerateContent?alt=sse`.

This module contains no networking code, in the manner of h11: the caller `feed()`s bytes as
they arrive, calls `feed_eof()` when the body ends, and pulls `next_event()` until it returns
`NEED_DATA` (feed more) or `None` (finished).

What Gemini sends (reference 1.4): `data: <one line of JSON>` events separated by CRLF CRLF,
no `event:`/`id:` lines and no `[DONE]`. When an error happens after data has started, the
server writes a raw, pretty-printed `{"error": {...}}` that is *not* SSE framed and closes the
stream with status 200. That text is surfaced as one `ErrorTail` so the caller can translate
it instead of silently treating the stream as finished.

Line rules:

- any SSE line ending (`\\r\\n`, `\\n`, `\\r`) is accepted, so `\\r\\n\\r\\n`, `\\n\\n` and `\\r\\r`
  all delimit events; a leading UTF-8 BOM is skipped;
- comment lines (`:`) and the `event`, `id` and `retry` fields are ignored; `data` lines of
  one event are joined with `\\n`; an event whose payload is empty is dropped like a keep-alive;
- any other line (e.g. one starting with `{`) starts the raw tail. Raw text that starts with
  `{` or `[` ends where its brackets balance (strings and escapes respected) and the parser
  then returns to SSE lines; any other raw text runs to EOF. Either way it becomes an
  `ErrorTail`. A line is classified as soon as its prefix decides it, so a bare JSON tail
  without a trailing newline is reported without waiting for EOF.

At EOF, departing from the SSE spec (which drops an unterminated event), pending `data` lines
that were terminated by a line ending are still delivered. A final line with no line ending is
delivered only if it is a `data` line holding valid JSON; otherwise it is a truncated event
and comes back as an `ErrorTail` with its raw text, so a connection cut mid-event is never
mistaken for a clean end.

The bound is per event: one event (or raw tail) over `max_event_size` bytes raises
`StreamProtocolError`, checked in `next_event()`, so call it after every `feed()`.

Only `\\r`, `\\n`, `:`, quotes, backslashes and brackets are looked at, all ASCII, so input is
kept as bytes and decoded once per event: a UTF-8 character split across feeds is harmless.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "NEED_DATA",
    "DataEvent",
    "ErrorTail",
    "GeminiSSEParser",
    "NeedData",
    "StreamProtocolError",
]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024

_FIELDS = (b"data", b"event", b"id", b"retry")
_LINE_END = re.compile(rb"[\r\n]")
_RAW_OUTSIDE = re.compile(rb'["{}\[\]]')
_RAW_INSIDE = re.compile(rb'["\\]')
_NON_SPACE = re.compile(rb"\S")
_BOM = b"\xef\xbb\xbf"
_CR, _LF, _COLON, _QUOTE = 0x0D, 0x0A, 0x3A, 0x22
_OPENERS = frozenset(b"{[")


class StreamProtocolError(ValueError):
    """The upstream body cannot be parsed as the event stream it should be."""


class NeedData:
    """Sentinel: no complete event is buffered; feed more bytes (or EOF)."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class DataEvent:
    """One dispatched SSE event: its `data` lines joined with `\\n`."""

    data: str


@dataclass(frozen=True, slots=True)
class ErrorTail:
    """Raw non-SSE text in the body: Gemini's mid-stream `{"error": ...}` or garbage.

    `body` runs from the start of the first non-SSE line to the bracket that balances it,
    or to EOF when it does not start with `{`/`[` or never balances.
    """

    body: str


def _decode(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", "replace")


class GeminiSSEParser:
    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._max = max_event_size
        self._buf = bytearray()
        self._pos = 0  # start of unconsumed input in _buf
        self._scan = 0  # where to resume looking for a line ending (avoids rescans)
        self._skip_lf = False  # the last line ended in a CR that may be half of a CRLF
        self._bom_checked = False
        self._data: list[bytes] = []
        self._data_size = 0
        self._ready: deque[DataEvent | ErrorTail] = deque()
        self._eof = False
        self._finished = False
        self._failed: StreamProtocolError | None = None
        # Raw-tail state; _raw is True while input from _pos on is raw text.
        self._raw = False
        # Whether the raw text starts with { or [ (so it may end by balancing); None = unknown.
        self._raw_json: bool | None = None
        self._raw_at = 0  # where bracket scanning resumes
        self._depth = 0
        self._in_str = False

    def feed(self, data: bytes) -> None:
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        self._buf += data

    def feed_eof(self) -> None:
        self._eof = True

    def next_event(self) -> DataEvent | ErrorTail | NeedData | None:
        if self._failed is not None:
            raise self._failed
        while not self._ready:
            if self._finished:
                return None
            if not self._step():
                self._compact()
                return NEED_DATA
        return self._ready.popleft()

    # -- internals ---------------------------------------------------------------------

    def _step(self) -> bool:
        """Consume one unit of input; False when more bytes are needed to progress."""
        buf = self._buf
        if self._skip_lf and self._pos < len(buf):
            self._skip_lf = False
            if buf[self._pos] == _LF:
                self._pos += 1
                self._scan = max(self._scan, self._pos)
        if not self._bom_checked:
            if len(buf) - self._pos < len(_BOM) and _BOM.startswith(buf[self._pos :]):
                if not self._eof:
                    return False
            elif buf.startswith(_BOM, self._pos):
                self._pos += len(_BOM)
            self._bom_checked = True
        if self._raw:
            return self._step_raw()
        start = self._pos
        m = _LINE_END.search(buf, self._scan)
        if m is None:
            if self._eof:
                return self._at_eof()
            self._scan = len(buf)
            if self._partial_is_raw(start):
                self._enter_raw()
                return True
            self._check_size(len(buf) - start)
            return False
        end = m.start()
        if not self._line(start, end):
            self._enter_raw()
            return True
        nxt = end + 1
        if buf[end] == _CR:
            if nxt < len(buf):
                nxt += buf[nxt] == _LF
            else:
                self._skip_lf = True
        self._pos = self._scan = nxt
        return True

    def _line(self, start: int, end: int) -> bool:
        """Apply one complete SSE line; False if it is not SSE (the raw tail starts here)."""
        buf = self._buf
        if start == end:
            self._dispatch()
            return True
        if buf.startswith(b"data:", start, end):
            value = start + 5
            if value < end and buf[value] == 0x20:
                value += 1
            self._add_data(bytes(buf[value:end]))
            return True
        if buf[start] == _COLON:
            return True
        colon = buf.find(b":", start, end)
        name = bytes(buf[start : end if colon < 0 else colon])
        if name == b"data":
            self._add_data(b"")
            return True
        return name in _FIELDS

    def _partial_is_raw(self, start: int) -> bool:
        """Whether an unterminated line can already be told not to be an SSE line."""
        buf = self._buf
        if start == len(buf) or buf[start] == _COLON:
            return False
        colon = buf.find(b":", start)
        if colon >= 0:
            return bytes(buf[start:colon]) not in _FIELDS
        name = bytes(buf[start:])
        return not any(field.startswith(name) for field in _FIELDS)

    def _add_data(self, value: bytes) -> None:
        self._data.append(value)
        self._data_size += len(value) + 1
        self._check_size(0)

    def _dispatch(self) -> None:
        data = self._data
        if not data:
            return
        raw = data[0] if len(data) == 1 else b"\n".join(data)
        self._data = []
        self._data_size = 0
        if raw:
            self._ready.append(DataEvent(_decode(raw)))

    def _check_size(self, partial: int) -> None:
        if self._data_size + partial > self._max:
            self._failed = StreamProtocolError(
                f"an upstream stream event exceeds {self._max} bytes"
            )
            raise self._failed

    def _at_eof(self) -> bool:
        buf, start = self._buf, self._pos
        if start < len(buf):
            # The last line has no line ending: the connection may have been cut mid-event.
            text = bytes(buf[start:])
            if text.startswith(b"data:") or text == b"data":
                value = text[5:].removeprefix(b" ")
                if _is_json(value):
                    self._add_data(value)
                else:
                    self._dispatch()
                    self._ready.append(ErrorTail(_decode(text)))
            elif not self._line(start, len(buf)) and text.strip():
                self._dispatch()
                self._ready.append(ErrorTail(_decode(text)))
            self._pos = self._scan = len(buf)
        self._dispatch()
        self._finished = True
        return True

    def _enter_raw(self) -> None:
        # Gemini ends events before its error tail, but flush anything pending so nothing
        # read so far is lost if it did not.
        self._dispatch()
        self._raw = True
        self._raw_json = None
        self._raw_at = self._pos
        self._depth = 0
        self._in_str = False

    def _step_raw(self) -> bool:
        buf = self._buf
        if self._raw_json is None:
            first = _NON_SPACE.search(buf, self._raw_at)
            if first is not None:
                self._raw_json = buf[first.start()] in _OPENERS
                self._raw_at = first.start()
            else:
                self._raw_at = len(buf)
        if self._raw_json:
            end = self._scan_brackets()
            if end >= 0:
                self._ready.append(ErrorTail(_decode(buf[self._pos : end])))
                self._raw = False
                self._pos = self._scan = end
                return True
        if self._eof:
            text = bytes(buf[self._pos :])
            if text.strip():
                self._ready.append(ErrorTail(_decode(text)))
            self._raw = False
            self._pos = self._scan = len(buf)
            self._finished = True
            return True
        self._check_size(len(buf) - self._pos)
        return False

    def _scan_brackets(self) -> int:
        """Advance the bracket scan; the end offset of the balanced value, or -1."""
        buf, at = self._buf, self._raw_at
        while True:
            m = (_RAW_INSIDE if self._in_str else _RAW_OUTSIDE).search(buf, at)
            if m is None:
                self._raw_at = len(buf)
                return -1
            at = m.end()
            ch = buf[m.start()]
            if self._in_str:
                if ch == _QUOTE:
                    self._in_str = False
                elif at < len(buf):
                    at += 1  # skip the escaped character
                else:
                    self._raw_at = m.start()  # the escaped character has not arrived yet
                    return -1
            elif ch == _QUOTE:
                self._in_str = True
            elif ch in _OPENERS:
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth <= 0:
                    return at

    def _compact(self) -> None:
        pos = self._pos
        if pos:
            del self._buf[:pos]
            self._pos = 0
            self._scan = max(0, self._scan - pos)
            self._raw_at = max(0, self._raw_at - pos)


def _is_json(value: bytes) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True
