"""Byte formats of the real service: pretty unary JSON, ESF one-line SSE JSON, lenient parsing."""

from __future__ import annotations

import json
from typing import Any


def pretty(obj: Any) -> bytes:
    """Unary bodies and error bodies: 2-space indent and a trailing newline, as captured."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def esf_line(obj: Any) -> str:
    # Google's ESF serializer puts a space after ':' but none after ',', on one line.
    return json.dumps(obj, separators=(",", ": "), ensure_ascii=False)


def sse_event(obj: Any) -> bytes:
    return f"data: {esf_line(obj)}\r\n\r\n".encode()


def strip_trailing_commas(text: str) -> str:
    """Drop commas before a closing bracket outside strings.

    The real endpoint's JSON parser tolerates them (the cookbook's curl bodies have them),
    and a fake that rejected them would make proxies look stricter than they need to be.
    """
    out: list[str] = []
    in_string = False
    escaped = False
    pending_comma: list[str] | None = None
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if pending_comma is not None:
            if ch.isspace():
                pending_comma.append(ch)
                continue
            if ch not in "}]":
                out.extend(pending_comma)
            else:
                out.extend(pending_comma[1:])
            pending_comma = None
        if ch == ",":
            pending_comma = [ch]
            continue
        if ch == '"':
            in_string = True
        out.append(ch)
    if pending_comma is not None:
        out.extend(pending_comma)
    return "".join(out)


def parse_body(raw: bytes) -> Any:
    """Parse a request body; raises ValueError on malformed JSON."""
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(strip_trailing_commas(text))
