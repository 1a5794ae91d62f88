"""What the fixed stack costs by itself: the floor under trioproxy's added latency.

    .venv/bin/python benchmarks/floor.py            # about two minutes
    .venv/bin/python benchmarks/floor.py --json floor.json

The design card fixes the stack: hypercorn (trio worker), quart-trio, httpx. This runs
minimal servers on that stack against the same fast simulated Gemini that `latency.py`
uses, each doing *nothing* but receive a request, send its body upstream with one shared
httpx client and return the answer (no auth, translation, pool, metrics or logs):

    canned    a bare ASGI callable on hypercorn that answers a fixed body and calls
              nothing: hypercorn's cost alone (its "added" latency is meaningless: it
              skips the upstream; its CPU per request is the point)
    asgi      a bare ASGI callable on hypercorn + httpx      (the stack without Quart)
    quart     one quart-trio route on hypercorn + httpx      (the whole fixed stack)
    trioproxy the real gateway (`trioproxy serve`, state and logs on, as deployed)

For each: added latency at concurrency 1 (direct and forwarded rounds interleaved, as in
latency.py), and the server's CPU time per request (from /proc over a closed loop at
concurrency 8), which on a CPU-bound server is what one request costs it. The difference
between `quart` and `trioproxy` is what trioproxy's own code costs; `quart` itself is the
floor the card's stack sets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

sys.path.insert(0, str(Path(__file__).parent))
from latency import (
    CHAT,
    PY,
    _requests,
    _wait_for,
    gateway,
    interleaved,
    upstream,
)

from trioproxy.bench.load import run_closed

FORWARDERS = ("canned", "asgi", "quart")
APP = Path(__file__).with_name("floor_apps.py")


@contextmanager
def forwarder(work: Path, kind: str, upstream_url: str) -> Iterator[tuple[str, int]]:
    log = work / f"floor-{kind}.log"
    with log.open("wb") as out:
        command = [PY, str(APP), kind, "--upstream", upstream_url]
        process = subprocess.Popen(command, stderr=out, env={**os.environ})
    try:
        url = _wait_for(log, "listening on", process).rsplit(" ", 1)[1]
        yield url, process.pid
    finally:
        process.terminate()
        process.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_per_request(direct: str, url: str, pid: int, requests: int) -> float:
    """Milliseconds of the server's CPU per forwarded request, at concurrency 8."""
    _, chat = _requests(direct, url, stream=False)
    async with httpx.AsyncClient(timeout=30) as client:
        await run_closed(client, lambda: chat, requests=200, concurrency=8)  # warm up
        before = cpu_seconds(pid)
        summary = await run_closed(client, lambda: chat, requests=requests, concurrency=8)
        spent = cpu_seconds(pid) - before
    if summary.errors:
        raise SystemExit(f"errors from {url}: {summary.errors}")
    return round(spent / requests * 1000, 3)


def measure(direct: str, url: str, pid: int, rounds: int, requests: int) -> dict[str, Any]:
    added = trio.run(interleaved, direct, url, rounds, False)["seconds"]["added"]
    return {"added_ms": added, "cpu_ms": trio.run(cpu_per_request, direct, url, pid, requests)}


def run(rounds: int, requests: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="trioproxy-floor-"))
    results: dict[str, Any] = {"python": sys.version.split()[0], "body": json.loads(CHAT)}
    with upstream(work) as up:
        for kind in FORWARDERS:
            print(f"{kind} ...", file=sys.stderr)
            with forwarder(work, kind, up) as (url, pid):
                results[kind] = measure(up, url, pid, rounds, requests)
        print("trioproxy ...", file=sys.stderr)
        with gateway(work, up) as (url, pid):
            results["trioproxy"] = measure(up, url, pid, rounds, requests)
    return results


def report(results: dict[str, Any]) -> str:
    lines = ["", f"{'':12}{'added p50':>11}{'p90':>8}{'p99':>8}{'CPU/request':>14}  ms"]
    for kind in (*FORWARDERS, "trioproxy"):
        added, cpu = results[kind]["added_ms"], results[kind]["cpu_ms"]
        lines.append(
            f"{kind:12}{added['p50']:>11.2f}{added['p90']:>8.2f}{added['p99']:>8.2f}{cpu:>14.2f}"
        )
    cpu = {kind: results[kind]["cpu_ms"] for kind in (*FORWARDERS, "trioproxy")}
    lines += [
        "",
        f"the fixed stack's floor (quart-trio + hypercorn + httpx): {cpu['quart']:.2f} ms "
        "of CPU per request:",
        f"  hypercorn serving the client {cpu['canned']:.2f} ms, httpx calling the upstream "
        f"{cpu['asgi'] - cpu['canned']:.2f} ms, Quart {cpu['quart'] - cpu['asgi']:.2f} ms",
        f"trioproxy's own code on top of it: {cpu['trioproxy'] - cpu['quart']:.2f} ms",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1000, help="interleaved rounds each")
    parser.add_argument("--requests", type=int, default=3000, help="requests for the CPU")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    started = time.monotonic()
    results = run(args.rounds, args.requests)
    print(report(results))
    print(f"\n({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
