"""Scripted faults: what a key (or model, or method) should suffer on its next requests."""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import trio

from . import errors

FAULT_KINDS = frozenset(
    [
        "rate_limit_minute",
        "rate_limit_day",
        "rate_limit_bare",
        "invalid_key",
        "leaked_key",
        "internal",
        "overloaded",
        "deadline",
        "hang",
        "latency",
        "midstream_error",
        "drop_connection",
        "echo_key",
    ]
)
# Faults that only make sense once a stream has started.
STREAM_KINDS = frozenset(["midstream_error", "drop_connection"])
# Faults that delay but do not decide the response; they combine with one deciding fault.
DELAY_KINDS = frozenset(["latency"])

_DEFAULT_RETRY = {"rate_limit_minute": "26s", "rate_limit_day": "4.5s"}
_ids = itertools.count(1)


@dataclass
class Fault:
    """One scripted fault. `times=None` means forever; `model`/`rpc` are fnmatch globs."""

    kind: str
    key: str | None = None
    model: str | None = None
    rpc: str | None = None
    times: int | None = 1
    retry_delay: str | None = None
    seconds: float = 0.0
    after_chunks: int = 1
    status: int = 503
    quota_value: str | None = None
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            )
        if self.retry_delay is None:
            self.retry_delay = _DEFAULT_RETRY.get(self.kind)

    def matches(self, key: str | None, model: str | None, rpc: str | None, streaming: bool) -> bool:
        if self.kind in STREAM_KINDS and not streaming:
            return False
        if self.key is not None and self.key != key:
            return False
        if self.model is not None and (model is None or not fnmatch.fnmatchcase(model, self.model)):
            return False
        return self.rpc is None or (rpc is not None and fnmatch.fnmatchcase(rpc, self.rpc))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultController:
    """Trio-safe (single thread, no awaits inside) list of pending faults."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, kind: str, **options: Any) -> Fault:
        fault = Fault(kind=kind, **options)
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault | int) -> None:
        fault_id = fault if isinstance(fault, int) else fault.id
        self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(
        self, key: str | None, model: str | None, rpc: str | None, streaming: bool
    ) -> tuple[float, Fault | None]:
        """Consume the matching faults: (total latency, the first deciding fault or None)."""
        delay = 0.0
        decided: Fault | None = None
        for fault in list(self._faults):
            if not fault.matches(key, model, rpc, streaming):
                continue
            if fault.kind in DELAY_KINDS:
                delay += fault.seconds
            elif decided is None:
                decided = fault
            else:
                continue
            fault.hits += 1
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.remove(fault)
        return delay, decided


async def apply_fault(fault: Fault, model: str, key: str | None = None) -> None:
    """Act out a deciding fault that ends the request before any response byte is sent.

    Stream faults (midstream_error, drop_connection) pass through: the stream handler acts
    them out once chunks are flowing.
    """
    kind = fault.kind
    if kind == "hang":
        await trio.sleep_forever()
    immediate: dict[str, Callable[[], errors.GeminiError]] = {
        "rate_limit_minute": lambda: errors.rate_limited(
            model,
            quota_id=errors.QUOTA_ID_MINUTE,
            retry_delay=fault.retry_delay,
            quota_value=fault.quota_value,
        ),
        "rate_limit_day": lambda: errors.rate_limited(
            model,
            quota_id=errors.QUOTA_ID_DAY,
            retry_delay=fault.retry_delay,
            quota_value=fault.quota_value,
        ),
        "rate_limit_bare": errors.rate_limited_bare,
        "invalid_key": errors.api_key_invalid,
        "leaked_key": errors.leaked_key,
        "internal": errors.internal,
        "overloaded": errors.overloaded,
        "deadline": errors.deadline,
        "echo_key": lambda: errors.echo_key(key or ""),
    }
    if kind in immediate:
        raise immediate[kind]()
