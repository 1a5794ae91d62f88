"""The attempts loop: one deadline per request, bounded attempts, rotation over the pool.

    deadline = now + request_timeout                  (one scope around every attempt)
    loop, at most max_attempts times:
        pool.choose(model)   -> a key, or Unavailable (all cooling -> 429, else -> 503)
        attempt(key)         -> a result, within first_byte_timeout, or a Failure
        pool.report(...)     -> state transition for that key
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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
import trio

from trioproxy import logs
from trioproxy.config.model import GatewaySettings
from trioproxy.errors import AllCooling, GatewayTimeout, PoolUnavailable, ProxyError, UpstreamError
from trioproxy.pool import ClientFault, KeyPool, KeyState, Outcome, Success, Transient, Unavailable
from trioproxy.providers.gemini.failures import Failure, classify_error
from trioproxy.secret import Secret

T = TypeVar("T")
ERROR_BODY_LIMIT = 64 * 1024


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
    key: KeyState
    attempts: int


class Dispatcher:
    def __init__(
        self,
        pool: KeyPool,
        http: httpx.AsyncClient,
        settings: GatewaySettings,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.http = http
        self.settings = settings
        self.wall = wall

    def deadline(self) -> float:
        return trio.current_time() + self.settings.request_timeout

    async def run(
        self,
        model: str,
        attempt: Callable[[KeyState], Awaitable[T]],
        *,
        deadline: float | None = None,
    ) -> Served[T]:
        """Run `attempt` on successive keys until one succeeds; raise a ProxyError if none."""
        with trio.move_on_at(deadline or self.deadline()):
            return await self._attempts(model, attempt)
        raise GatewayTimeout(
            f"the request did not complete within {self.settings.request_timeout:g}s"
        )

    async def _attempts(self, model: str, attempt: Callable[[KeyState], Awaitable[T]]) -> Served[T]:
        tried: dict[str, str] = {}
        last: Failure | None = None
        for number in range(1, self.settings.max_attempts + 1):
            choice = self.pool.choose(model, trio.current_time(), tried)
            if isinstance(choice, Unavailable):
                raise self._exhausted(model, choice, last)
            key = choice.key
            try:
                result = await self._one(key, attempt)
            except AttemptFailed as failed:
                failure = failed.failure
            else:
                self.report(key, model, Success())
                return Served(result, key, number)
            self.report(key, model, failure.outcome)
            if isinstance(failure.outcome, ClientFault):
                raise failure.error
            tried[key.name] = failure.error.message
            last = failure
        assert last is not None  # the loop ran at least once: max_attempts >= 1
        raise last.error

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

    def report(self, key: KeyState, model: str, outcome: Outcome) -> None:
        self.pool.report(key, model, outcome, now=trio.current_time(), wall=self.wall())

    def _exhausted(self, model: str, choice: Unavailable, last: Failure | None) -> ProxyError:
        if choice.retry_after is not None:
            when = "the daily quota reset" if choice.per_day else "a key cools down"
            return AllCooling(
                f"Every key for model {model} is rate limited; retry after {when} "
                f"(in {choice.retry_after:.1f}s).",
                retry_after=choice.retry_after,
                per_day=choice.per_day,
            )
        detail = f" Last upstream error: {last.error.message}" if last else ""
        all_disabled = all(key["state"] == "disabled" for key in choice.keys)
        return PoolUnavailable(
            f"No key can serve model {model} right now.{detail}",
            keys=choice.keys,
            retryable=not all_disabled,
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
