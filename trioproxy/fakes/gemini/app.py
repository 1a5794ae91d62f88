"""`SimulatedGemini`: the ASGI application, its routing, auth and fault handling."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import trio

from . import control, errors, handlers
from .errors import GeminiError
from .faults import FaultController, apply_fault
from .quota import Limit, QuotaTracker, _utc_now
from .records import Predicate, Recorder, RequestRecord
from .respond import Receive, Responder, Send
from .wire import parse_body

_ROUTE = re.compile(r"^/(v1|v1beta)/models(?:/([^/:]+)(?::([A-Za-z]+))?)?/?$")
_POST_RPCS = frozenset(
    [
        "generateContent",
        "streamGenerateContent",
        "countTokens",
        "embedContent",
        "batchEmbedContents",
    ]
)
_GET_RPCS = frozenset(["models.list", "models.get"])


class SimulatedGemini:
    """A faithful, deterministic, scriptable Gemini API (generativelanguage v1 / v1beta)."""

    def __init__(
        self,
        keys: Iterable[str] = (),
        *,
        any_key: bool = False,
        oauth_tokens: Iterable[str] = (),
        chunks: int = 3,
        chunk_delay: float = 0.0,
        latency: float = 0.0,
        rpm: Limit = None,
        rpd: Limit = None,
        projects: Mapping[str, str] | None = None,
        wall_clock: Callable[[], dt.datetime] = _utc_now,
        record_limit: int | None = None,
    ) -> None:
        self.keys: set[str] = set(keys)
        self.any_key = any_key
        self.oauth_tokens: set[str] = set(oauth_tokens)
        self.knobs = handlers.Knobs(chunks=chunks, chunk_delay=chunk_delay, latency=latency)
        self.faults = FaultController()
        self.quota = QuotaTracker(rpm=rpm, rpd=rpd, projects=projects, wall_clock=wall_clock)
        self.recorder = Recorder(record_limit)
        self._seq = 0

    # -- the tests' window onto the upstream -------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self.recorder.records)

    def requests_for(self, key: str | None) -> list[RequestRecord]:
        return self.recorder.select(key=key)

    def select(self, predicate: Predicate | None = None, **filters: Any) -> list[RequestRecord]:
        return self.recorder.select(predicate, **filters)

    def count(self, predicate: Predicate | None = None, **filters: Any) -> int:
        return len(self.recorder.select(predicate, **filters))

    async def wait_for(self, predicate: Predicate | None = None, **filters: Any) -> RequestRecord:
        """The first record (past or future) matching; bound it with `trio.fail_after`."""
        return await self.recorder.wait_for(predicate, **filters)

    def reset(self) -> None:
        """Forget records, pending faults and quota usage (keys and knobs stay)."""
        self.recorder.clear()
        self.faults.clear()
        self.quota.reset()

    def add_key(self, key: str) -> None:
        self.keys.add(key)

    def remove_key(self, key: str) -> None:
        self.keys.discard(key)

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body, disconnected = await _read_body(receive)
        if scope["path"].startswith("/_sim/"):
            await control.handle(self, scope, body, send)
            return
        record = self._new_record(scope, body)
        if disconnected:
            self._mark_cancelled(record, disconnected=True)
            return
        out = Responder(send, record, lambda: self.recorder.changed(record))
        failure: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_disconnect, receive, nursery.cancel_scope, out)
                await self._respond(out, scope, body)
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            failure = exc
            raise
        finally:
            record.finished_at = trio.current_time()
            if not record.completed and not record.dropped:
                if failure is None or _only_cancelled(failure):
                    self._mark_cancelled(record, disconnected=record.disconnected)
                else:
                    # A bug in the fake, not a cancellation: keep the evidence on the record.
                    record.error = {"exception": repr(failure)}
            self.recorder.changed(record)

    def _mark_cancelled(self, record: RequestRecord, *, disconnected: bool) -> None:
        record.cancelled = True
        record.disconnected = disconnected
        record.cancelled_at = trio.current_time()
        record.finished_at = record.finished_at or record.cancelled_at
        self.recorder.changed(record)

    async def _watch_disconnect(
        self, receive: Receive, scope: trio.CancelScope, out: Responder
    ) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if out.finishing:
                    return
                # hypercorn does not cancel the app on hang-up; this is how a hang ends.
                out.record.disconnected = True
                scope.cancel()
                return

    def _new_record(self, scope: dict[str, Any], raw: bytes) -> RequestRecord:
        self._seq += 1
        hdrs: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            hdrs[key] = f"{hdrs[key]}, {text}" if key in hdrs else text
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        record = RequestRecord(
            seq=self._seq,
            method=scope["method"],
            path=scope["path"],
            query=query,
            headers=hdrs,
            started_at=trio.current_time(),
            authorization=hdrs.get("authorization"),
            sse=query.get("alt") == "sse",
        )
        if "x-goog-api-key" in hdrs:
            record.key, record.key_source = hdrs["x-goog-api-key"], "header"
        elif "key" in query:
            record.key, record.key_source = query["key"], "query"
        match = _ROUTE.match(scope["path"])
        if match:
            record.api_version, record.model, rpc = match.groups()
            record.rpc = rpc or ("models.get" if record.model else "models.list")
        try:
            record.body = parse_body(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            record.body = None
        self.recorder.add(record)
        return record

    async def _respond(self, out: Responder, scope: dict[str, Any], raw: bytes) -> None:
        try:
            await self._dispatch(out, scope, raw)
        except GeminiError as err:
            if out.started:
                raise
            await out.error(err)

    def _authenticate(self, record: RequestRecord) -> None:
        auth = record.authorization
        if auth is not None:
            token = auth.removeprefix("Bearer ").strip()
            if token in self.oauth_tokens:
                return
            raise errors.unauthenticated()
        if not record.key:
            raise errors.unregistered_caller()
        if not self.any_key and record.key not in self.keys:
            raise errors.api_key_invalid()

    async def _dispatch(self, out: Responder, scope: dict[str, Any], raw: bytes) -> None:
        record = out.record
        rpc, version, model_id = record.rpc, record.api_version or "v1beta", record.model
        expected = "POST" if rpc in _POST_RPCS else "GET"
        if rpc is None or rpc not in _POST_RPCS | _GET_RPCS or record.method != expected:
            await out.html_not_found()
            return
        self._authenticate(record)
        delay, fault = self.faults.take(record.key, model_id, rpc, record.streaming)
        delay += self.knobs.latency
        if delay > 0:
            await trio.sleep(delay)
        if fault is not None:
            record.fault = fault.kind
            self.recorder.changed(record)
            await apply_fault(fault, model_id or "", record.key)
        if rpc == "models.list":
            await handlers.list_models(out, record.query)
            return
        if rpc == "models.get":
            await handlers.get_model(out, model_id or "", version)
            return
        model = handlers.resolve(model_id or "", version, rpc)
        if self.quota.enabled and rpc != "countTokens" and record.key:
            self.quota.admit(record.key, model.id)
        try:
            body = parse_body(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise errors.invalid_json("Unexpected token.") from None
        if rpc == "countTokens":
            await handlers.count_tokens(out, model, body, version)
        elif rpc in ("embedContent", "batchEmbedContents"):
            await handlers.embed_content(out, model, body, version, rpc == "batchEmbedContents")
        else:
            req = handlers.prepare(model, body, version)
            seq = record.seq
            if rpc == "generateContent":
                await handlers.generate(out, model, req, seq)
            else:
                await handlers.stream_generate(out, model, req, seq, self.knobs, fault)

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.recorder.records]


def _only_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_cancelled(e) for e in exc.exceptions)
    return False


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
