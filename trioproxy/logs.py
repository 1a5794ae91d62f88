"""Structured JSON logs on stderr: one object per line.

Every record passes through `JsonFormatter`, which formats arguments with `%`/`str()`, so
a `Secret` that reaches a log call is printed masked (see trioproxy.secret).
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
from typing import Any

ACCESS = logging.getLogger("trioproxy.access")
EVENTS = logging.getLogger("trioproxy")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# Records waiting for the writer thread. Bounded: if stderr blocks (a full pipe, a slow
# log collector), records are dropped and counted rather than stalling requests.
QUEUE_SIZE = 10_000
_dropped = 0
_listener: _Listener | None = None


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    def enqueue(self, record: logging.LogRecord) -> None:
        global _dropped
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            _dropped += 1

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Formatted here, on the caller's thread, so the writer only writes bytes and the
        # record's arguments are not read later from another thread. The JSON line holds
        # everything (traceback included): nothing else may be appended to it.
        record.msg = self.format(record)
        record.args = None
        record.exc_info = record.exc_text = record.stack_info = None
        return record


class _Listener(logging.handlers.QueueListener):
    def enqueue_sentinel(self) -> None:
        # At exit, wait for room rather than lose the lines still queued.
        self.queue.put(self._sentinel)  # type: ignore[attr-defined]


def _stop() -> None:
    if _listener is not None:
        _listener.stop()


def dropped() -> int:
    """Log records dropped because the writer fell behind (a metric)."""
    return _dropped


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr, written by a background thread: a log call on the request
    path only formats and enqueues (it never waits for stderr)."""
    global _listener
    if _listener is None:
        # Once: whatever is queued is written before the process exits.
        atexit.register(_stop)
    else:
        _listener.stop()
    output = logging.StreamHandler(sys.stderr)
    output.setFormatter(logging.Formatter("%(message)s"))
    records: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_SIZE)
    handler = _DroppingQueueHandler(records)
    handler.setFormatter(JsonFormatter())
    _listener = _Listener(records, output)
    _listener.start()
    root = logging.getLogger("trioproxy")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    EVENTS.log(level, message, extra={"fields": fields})


def access(**fields: Any) -> None:
    ACCESS.info("request", extra={"fields": fields})
