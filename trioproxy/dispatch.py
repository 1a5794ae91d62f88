"""The attempts loop: one deadline per request, bounded attempts, rotation over the pool.

    deadline = now + request_timeout                  (one scope around every attempt)
    loop, at most max_attempts times:
        pool.choose(model)   -> a key, or Unavailable:
                                  a key leaves its cooldown within max_wait -> wait, choose again
                                  every key held by quota -> 429 + Retry-After
                                  otherwise -> 503
        attempt(key)         -> a result, within first_byte_timeout, or a Failure
        pool.report(...)     -> state transition for that key (cooldown, breaker, health)
        ClientFault          -> stop: no other key would do better

An attempt covers everything before the first byte reaches the client: for a unary call
the whole upstream answer and its translation, for a stream the response headers and the
first translated chunk. So a key that stalls, or answers with something malformed, costs
one attempt and the request moves on; nothing is retried once the client has a byte.

An attempt's I/O runs in the caller's task, inside the request's nursery, so a client that
hangs up cancels it like any other trio code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
import trio

from trioproxy import logs
from trioproxy.config.model import GatewaySettings
from trioproxy.decisions import (
    AttemptRecord,
    Decision,
    DecisionLog,
    RequestInfo,
    outcome_name,
)
from trioproxy.drain import Drain
from trioproxy.errors import (
    AllCooling,
    GatewayTimeout,
    PoolUnavailable,
    ProxyError,
    ShuttingDown,
    UpstreamError,
)
from trioproxy.observability.metrics import Metrics
from trioproxy.pool import (
    ClientFault,
    KeyPool,
    KeyState,
    Outcome,
    Pick,
    RateLimited,
    Success,
    Transient,
    Unavailable,
)
from trioproxy.pool.blocks import Exclusions
from trioproxy.pool.breaker import State
from trioproxy.providers.gemini.failures import Failure, classify_error
from trioproxy.secret import Secret

T = TypeVar("T")
ERROR_BODY_LIMIT = 64 * 1024
# A request waits for a cooling key only if this much of its deadline is left after.
WAIT_MARGIN = 1.0


class AttemptFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.error.message)
        self.failure = failure


def transient(message: str, *, status: int = 502, code: str = "upstream_error") -> AttemptFailed:
    """A failure of this attempt that another key (or a later try) may not have."""
    error = UpstreamError(message, status=status, type="server_error", code=code)
    return AttemptFailed(Failure(Transient(message), error))


@dataclass(frozen=True, slots=True)
class Served(Generic[T]):
    result: T
    pick: Pick
    attempts: int
    # The successful attempt's record: a stream's final verdict is written into it.
    record: AttemptRecord

    @property
    def key(self) -> KeyState:
        return self.pick.key


class Dispatcher:
    def __init__(
        self,
        pool: KeyPool,
        http: httpx.AsyncClient,
        settings: GatewaySettings,
        *,
        wall: Callable[[], float] = time.time,
        decisions: DecisionLog | None = None,
        drain: Drain | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.pool = pool
        self.metrics = metrics
        self.drain = drain or Drain()
        self.http = http
        self.settings = settings
        self.wall = wall
        self.decisions = decisions if decisions is not None else DecisionLog()

    def deadline(self) -> float:
        return trio.current_time() + self.settings.request_timeout

    async def run(
        self,
        model: str,
        attempt: Callable[[KeyState], Awaitable[T]],
        *,
        deadline: float | None = None,
        hold: bool = False,
        info: RequestInfo | None = None,
        upstreams: Collection[str] | None = None,
    ) -> Served[T]:
        """Run `attempt` on successive keys until one succeeds; raise a ProxyError if none.

        With `hold`, the successful pick stays lent and unreported (a stream: the caller
        reports how it ended and releases it when the relay ends); otherwise every pick is
        reported and released before this returns. `upstreams`: only keys of these
        upstreams may serve (a project's restriction)."""
        info = info or RequestInfo()
        decision = Decision(info.request_id, info.route, model, self.wall())
        info.decision = decision
        self.decisions.add(decision)
        try:
            with self.drain.guard(deadline or self.deadline()) as scope:
                served = await self._attempts(model, attempt, decision, hold, upstreams)
                if not hold:
                    self.release(served.pick)
                decision.result = "served"
                return served
            if self.drain.cut(scope):
                decision.result = "shutdown"
                raise ShuttingDown()
            decision.result = "timeout"
            raise GatewayTimeout(
                f"the request did not complete within {self.settings.request_timeout:g}s"
            )
        except ProxyError as error:
            # Decision transparency on errors too.
            error.headers.setdefault("x-trioproxy-attempts", str(len(decision.attempts)))
            raise

    async def _attempts(
        self,
        model: str,
        attempt: Callable[[KeyState], Awaitable[T]],
        decision: Decision,
        hold: bool,
        upstreams: Collection[str] | None,
    ) -> Served[T]:
        # Keys that failed this request for a reason other than quota: not tried again.
        # (A key that answered 429 is excluded by its cooldown, and may serve after it.)
        tried = Exclusions(upstreams)
        last: Failure | None = None
        number = 0
        while number < self.settings.max_attempts:
            now = trio.current_time()
            choice = self.pool.choose(model, now, self.wall(), exclude=tried, on_skip=decision.skip)
            if isinstance(choice, Unavailable):
                if await self._wait(choice, decision):
                    continue
                decision.result = "exhausted"
                raise self._exhausted(model, choice, last)
            number += 1
            record = AttemptRecord(choice.key.name, now, trial=choice.trial)
            decision.attempts.append(record)
            try:
                result = await self._one(choice.key, attempt)
            except AttemptFailed as failed:
                failure = failed.failure
            except BaseException:
                # Cancelled (the client left, the deadline passed) or the client's error.
                record.outcome, record.ended = "abandoned", trio.current_time()
                self.release(choice)
                raise
            else:
                if hold:
                    # A stream: its first chunk is out, but its verdict (for the breaker
                    # and the health score) waits for the end of the relay.
                    record.outcome, record.ended = "ok", trio.current_time()
                    self.pool.answered(choice)
                else:
                    self._settle(choice, Success(), record)
                return Served(result, choice, number, record)
            self._settle(choice, failure.outcome, record)
            self.release(choice)
            if isinstance(failure.outcome, ClientFault):
                decision.result = "rejected"
                raise failure.error
            if not isinstance(failure.outcome, RateLimited):
                tried[choice.key.name] = failure.error.message
            last = failure
        assert last is not None  # the loop ran at least once: max_attempts >= 1
        decision.result = "failed"
        if isinstance(last.outcome, RateLimited):
            # Out of attempts on 429s: answer with the pool's own view (a true
            # Retry-After, and x-should-retry: false when the day is over), not with the
            # last key's bare 429.
            raise self._out_of_attempts(model, last, tried.upstreams)
        raise last.error

    async def _wait(self, choice: Unavailable, decision: Decision) -> bool:
        """Hold the request while every usable key is cooling, if one recovers soon:
        within what is left of `max_wait` and of the request's deadline (waiting into the
        deadline would turn an honest 429 into a 504)."""
        if choice.wait is None:
            return False
        # Leave the attempt after the wait some time before the deadline.
        left = trio.current_effective_deadline() - trio.current_time() - WAIT_MARGIN
        if choice.wait > min(self.settings.max_wait - decision.waited, left):
            return False
        await trio.sleep(choice.wait)
        decision.waited += choice.wait
        return True

    async def _one(self, key: KeyState, attempt: Callable[[KeyState], Awaitable[T]]) -> T:
        """One attempt, with every way it can fail turned into AttemptFailed (except the
        client's own errors, and cancellation, which propagate)."""
        timeout = self.settings.first_byte_timeout
        try:
            with trio.move_on_after(timeout):
                return await attempt(key)
        except (AttemptFailed, ProxyError):
            raise
        except httpx.RequestError as error:
            raise transient(f"upstream connection failed: {type(error).__name__}") from None
        except Exception as error:
            # Malformed upstream data that translation could not digest. Logged in full, as
            # it may also be a bug of ours; the client sees a retry, then a clear 502.
            logs.EVENTS.warning(
                "upstream answer could not be used",
                exc_info=True,
                extra={"fields": {"key": key.name}},
            )
            raise transient(f"upstream sent a malformed answer ({type(error).__name__})") from None
        raise transient(f"no answer within {timeout:g}s", status=504, code="upstream_timeout")

    def _settle(self, pick: Pick, outcome: Outcome, record: AttemptRecord) -> None:
        record.ended = trio.current_time()
        record.outcome, record.detail = outcome_name(outcome)
        self.report(pick, outcome)

    def report(self, pick: Pick, outcome: Outcome) -> None:
        key = pick.key
        was = key.breaker.state
        changed = self.pool.report(pick, outcome, now=trio.current_time(), wall=self.wall())
        if self.metrics is not None:
            self.metrics.outcome(pick, outcome)
        if changed:
            # Breaker transitions and auth disables are rare and worth a line each.
            worse = key.disabled is not None or key.breaker.state is State.OPEN
            logs.event(
                "key state changed",
                logging.WARNING if worse else logging.INFO,
                key=key.name,
                breaker=key.breaker.state.value,
                was=was.value,
                disabled=key.disabled,
                outcome=outcome_name(outcome)[0],
            )

    def judge_stream(self, served: Served[Any], outcome: Outcome) -> None:
        """A held stream's verdict (its end, or a failure midway): to the pool, and into
        the decision record, which said "ok" at the first chunk."""
        self._settle(served.pick, outcome, served.record)

    def release(self, pick: Pick) -> None:
        self.pool.release(pick, trio.current_time())

    def record_tokens(self, pick: Pick, prompt: int, completion: int, reasoning: int = 0) -> None:
        self.pool.record_tokens(pick, prompt, completion, now=trio.current_time(), wall=self.wall())
        if self.metrics is not None:
            self.metrics.tokens(pick, prompt, completion, reasoning)

    def _out_of_attempts(
        self, model: str, last: Failure, upstreams: Collection[str] | None
    ) -> ProxyError:
        # The pool as the client's retry will find it: the keys this request failed on
        # say nothing about the next one, but its project's upstreams still bound it.
        now, wall = trio.current_time(), self.wall()
        choice = self.pool.assess(model, now, wall, exclude=Exclusions(upstreams))
        if choice.quota and choice.retry_after is not None:
            return self._exhausted(model, choice, last)
        return AllCooling(
            f"Every attempt for model {model} was rate limited ({last.error.message}); "
            "other keys may serve a retry.",
            retry_after=1,
        )

    def _exhausted(self, model: str, choice: Unavailable, last: Failure | None) -> ProxyError:
        if choice.quota and choice.retry_after is not None:
            when = "the daily quota reset" if choice.per_day else "a key cools down"
            return AllCooling(
                f"Every key for model {model} is rate limited; retry after {when} "
                f"(in {choice.retry_after:.1f}s).",
                retry_after=choice.retry_after,
                per_day=choice.per_day,
            )
        detail = f" Last upstream error: {last.error.message}" if last else ""
        return PoolUnavailable(
            f"No key can serve model {model} right now.{detail}",
            keys=choice.keys,
            retryable=not choice.all_disabled,
            retry_after=choice.retry_after,
        )

    async def send(self, request: httpx.Request, secret: Secret) -> httpx.Response:
        """Send and wait for a 2xx status line; the body is left open for the caller.

        Raises AttemptFailed for an error status, whose body is read (bounded) and
        classified here.
        """
        response = await self.http.send(request, stream=True)
        if response.status_code < 300:
            return response
        try:
            body = await _read_bounded(response)
        finally:
            await response.aclose()
        raise AttemptFailed(classify_error(response.status_code, body, secret=secret))

    async def fetch_json(self, request: httpx.Request, secret: Secret) -> Any:
        """A unary call: the parsed JSON body of a 2xx answer."""
        response = await self.send(request, secret)
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        try:
            return json.loads(raw)
        except ValueError:
            raise transient("upstream returned a body that is not JSON") from None


async def _read_bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > ERROR_BODY_LIMIT:
            break
    return bytes(body)
