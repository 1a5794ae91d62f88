"""The simulated Gemini's fast mode, for benchmarks: canned answers over raw h11 on trio.

The full simulation (`python -m trioproxy.fakes.gemini`) checks every request the way
Google does, and costs several milliseconds per call as a Quart app; measured through
the gateway it would be the bottleneck, and the benchmark would measure the simulation.
This one parses just enough HTTP to answer: `generateContent` with a fixed answer,
`streamGenerateContent?alt=sse` with `chunks` events `chunk_delay` apart, `GET models/..`
for probes. Any key is accepted. It is for load, not for correctness (the full
simulation and its `google-genai` tests are for that).

    python -m trioproxy.fakes.gemini.fast --bind 127.0.0.1:4807 [--chunks 5] [--chunk-delay 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import h11
import trio

_USAGE = {"promptTokenCount": 4, "candidatesTokenCount": 6, "totalTokenCount": 10}


def _answer(text: str, finish: bool) -> bytes:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = "STOP"
    body = {"candidates": [candidate], "usageMetadata": _USAGE, "modelVersion": "fast"}
    return json.dumps(body).encode()


UNARY = _answer("Hello from the fast simulation.", True)
MODEL = json.dumps({"name": "models/gemini-2.5-flash", "displayName": "fast"}).encode()


class FastGemini:
    def __init__(self, *, chunks: int = 5, chunk_delay: float = 0.0) -> None:
        self.chunks = max(1, chunks)
        self.chunk_delay = chunk_delay

    async def serve(self, bind: str, *, task_status: trio.TaskStatus[str]) -> None:
        host, _, port = bind.rpartition(":")
        listeners = await trio.open_tcp_listeners(int(port), host=host or None)
        sockname = listeners[0].socket.getsockname()
        task_status.started(f"http://{sockname[0]}:{sockname[1]}")
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await _next_event(stream, connection, h11.Request)
                if request is None:
                    return
                while not isinstance(
                    await _next_event(stream, connection, h11.EndOfMessage), h11.EndOfMessage
                ):
                    pass
                await self._respond(stream, connection, request.target.decode())
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            await stream.aclose()

    async def _respond(
        self, stream: trio.SocketStream, connection: h11.Connection, target: str
    ) -> None:
        if ":streamGenerateContent" in target:
            headers = [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")]
            await _send(stream, connection, h11.Response(status_code=200, headers=headers))
            for index in range(self.chunks):
                if index and self.chunk_delay:
                    await trio.sleep(self.chunk_delay)
                event = b"data: " + _answer(f"word{index} ", index == self.chunks - 1) + b"\r\n\r\n"
                await _send(stream, connection, h11.Data(data=event))
            await _send(stream, connection, h11.EndOfMessage())
            return
        body = UNARY if ":generateContent" in target else MODEL
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        await _send(stream, connection, h11.Response(status_code=200, headers=headers))
        await _send(stream, connection, h11.Data(data=body))
        await _send(stream, connection, h11.EndOfMessage())


async def _next_event(stream: trio.SocketStream, connection: h11.Connection, wanted: type) -> Any:
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            connection.receive_data(data)
            if not data and connection.their_state is not h11.DONE:
                return None
            continue
        if isinstance(event, h11.ConnectionClosed):
            return None
        if isinstance(event, wanted | h11.EndOfMessage):
            return event


async def _send(stream: trio.SocketStream, connection: h11.Connection, event: Any) -> None:
    data = connection.send(event)
    if data:
        await stream.send_all(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trioproxy.fakes.gemini.fast")
    parser.add_argument("--bind", default="127.0.0.1:4807")
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    fast = FastGemini(chunks=args.chunks, chunk_delay=args.chunk_delay)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(fast.serve, args.bind)
            print(f"fast simulated Gemini listening on {url}", file=sys.stderr, flush=True)

    trio.run(run)


if __name__ == "__main__":
    main()
