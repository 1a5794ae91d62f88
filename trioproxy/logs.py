"""Structured JSON logs on stderr: one object per line.

Every record passes through `JsonFormatter`, which formats arguments with `%`/`str()`, so
a `Secret` that reaches a log call is printed masked (see trioproxy.secret).
"""

from __future__ import annotations

import json
import logging
import sys
import time
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


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("trioproxy")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    EVENTS.log(level, message, extra={"fields": fields})


def access(**fields: Any) -> None:
    ACCESS.info("request", extra={"fields": fields})


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
