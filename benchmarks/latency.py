"""What trioproxy adds to a request: latency, streaming, throughput, concurrency, pool size.

    .venv/bin/python benchmarks/latency.py            # the full run (several minutes)
    .venv/bin/python benchmarks/latency.py --quick    # under a minute
    .venv/bin/python benchmarks/latency.py --json results.json

Three processes on this machine: the fast simulated Gemini (canned answers over raw h11,
trioproxy.fakes.gemini.fast), the real gateway (`trioproxy serve`: hypercorn, one trio
worker), and this script as the client. Its own direct numbers against the upstream are
reported beside the proxied ones, so it is visible when the upstream (or the client) is
the limit rather than the gateway. Direct and proxied rounds are interleaved, so noise on
the machine hits both alike; "added" is proxied minus direct, percentile by percentile.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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

from trioproxy.bench.load import Sample, percentiles_ms, run_closed, run_open, send

PY = sys.executable
MODEL = "gemini-2.5-flash"
CHAT = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}]})
STREAM = json.dumps({**json.loads(CHAT), "stream": True})
GEMINI = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]})
CARD_MS, TARGET_P50_MS, TARGET_P99_MS, TARGET_TTFT_MS, TARGET_RATE = 100, 1.0, 3.0, 1.0, 1000


# Processes.


def _wait_for(path: Path, marker: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if marker in line:
                return line
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited:\n{path.read_text()}")
        time.sleep(0.05)
    raise SystemExit(f"{process.args} did not start:\n{path.read_text()}")


@contextmanager
def upstream(work: Path, *, chunks: int = 5, delay: float = 0.0) -> Iterator[str]:
    log = work / f"upstream-{chunks}-{delay}.log"
    with log.open("wb") as out:
        command = [PY, "-m", "trioproxy.fakes.gemini.fast", "--bind", "127.0.0.1:0"]
        command += ["--chunks", str(chunks), "--chunk-delay", str(delay)]
        process = subprocess.Popen(command, stderr=out)
    try:
        yield _wait_for(log, "listening on", process).rsplit(" ", 1)[1]
    finally:
        process.terminate()
        process.wait()


@contextmanager
def gateway(work: Path, upstream_url: str, keys: int = 2) -> Iterator[tuple[str, int]]:
    tag = f"{keys}-{time.monotonic_ns()}"
    config = work / f"keys-{tag}.yaml"
    lines = ["upstreams:", "  - name: gemini", "    type: gemini", f"    base_url: {upstream_url}"]
    lines += ["    keys:"] + [f"      - {{name: k{i}, key: bench-key-{i}}}" for i in range(keys)]
    config.write_text("\n".join(lines) + "\n")
    log = work / f"gateway-{tag}.log"
    env = {**os.environ, "TRIOPROXY_DATA_DIR": str(work / f"data-{tag}")}
    env["TRIOPROXY_SIMULATE"] = "off"
    with log.open("wb") as out:
        command = [PY, "-m", "trioproxy", "serve", "--bind", "127.0.0.1:0"]
        process = subprocess.Popen([*command, "--config", str(config)], stderr=out, env=env)
    try:
        line = _wait_for(log, '"msg": "listening"', process)
        yield json.loads(line)["url"], process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# Measurements.


def _requests(direct: str, proxied: str, *, stream: bool) -> tuple[httpx.Request, httpx.Request]:
    rpc = "streamGenerateContent?alt=sse" if stream else "generateContent"
    gemini = httpx.Request(
        "POST",
        f"{direct}/v1beta/models/{MODEL}:{rpc}",
        content=GEMINI,
        headers={"content-type": "application/json", "x-goog-api-key": "bench-key-0"},
    )
    chat = httpx.Request(
        "POST",
        f"{proxied}/v1/chat/completions",
        content=STREAM if stream else CHAT,
        headers={"content-type": "application/json"},
    )
    return gemini, chat


async def interleaved(direct: str, proxied: str, rounds: int, stream: bool) -> dict[str, Any]:
    """Concurrency 1: a direct and a proxied request per round, after a warm-up."""
    gemini, chat = _requests(direct, proxied, stream=stream)
    samples: dict[str, list[Sample]] = {"direct": [], "proxied": []}
    async with httpx.AsyncClient(timeout=60) as client:
        for index in range(rounds + 50):
            pair = [("direct", gemini), ("proxied", chat)]
            for name, request in pair if index % 2 else reversed(pair):
                sample = await send(client, request, time.perf_counter())
                if index >= 50:
                    samples[name].append(sample)
    result: dict[str, Any] = {}
    for measure in ("seconds", "first_byte") if stream else ("seconds",):
        by = {
            name: percentiles_ms([getattr(s, measure) for s in found if s.ok])
            for name, found in samples.items()
        }
        by["added"] = {p: round(by["proxied"][p] - by["direct"][p], 3) for p in by["direct"]}
        result[measure] = by
    result["errors"] = sum(not s.ok for found in samples.values() for s in found)
    return result


async def sweep(direct: str, proxied: str, rates: list[int], seconds: float) -> dict[str, Any]:
    """Open loop at fixed arrival rates, proxied; stops after the first step that fails."""
    _, chat = _requests(direct, proxied, stream=False)
    steps = []
    limits = httpx.Limits(max_connections=4000, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        for rate in rates:
            summary = await run_open(client, lambda: chat, rate=rate, requests=int(rate * seconds))
            step = {**summary.to_json(), "target": rate}
            steps.append(step)
            if summary.errors or summary.latency_ms["p99"] > 1000:
                break
    held = [s["target"] for s in steps if not s["errors"] and s["latency_ms"]["p99"] < 50]
    # What the upstream and this client can do without the gateway, at the same load shape.
    gemini, _ = _requests(direct, proxied, stream=False)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        ceiling = await run_closed(client, lambda: gemini, requests=3000, concurrency=20)
    return {"steps": steps, "held": max(held, default=0), "direct_ceiling": ceiling.to_json()}


async def many_streams(proxied: str, count: int) -> dict[str, Any]:
    _, chat = _requests("", proxied, stream=True)
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        summary = await run_closed(client, lambda: chat, requests=count, concurrency=count)
    return summary.to_json()


# The run.


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    results: dict[str, Any] = {"quick": quick, "python": sys.version.split()[0]}
    work = Path(tempfile.mkdtemp(prefix="trioproxy-bench-"))
    rounds = 300 if quick else 2000
    with upstream(work) as up, gateway(work, up) as (proxy, _pid):
        print("added latency, concurrency 1 ...", file=sys.stderr)
        results["unary"] = trio.run(interleaved, up, proxy, rounds, False)
        print("streaming ...", file=sys.stderr)
        results["stream"] = trio.run(interleaved, up, proxy, rounds // 2, True)
        print("throughput sweep ...", file=sys.stderr)
        rates = [50, 100, 200, 400] if quick else [50, 100, 200, 400, 800, 1600]
        results["throughput"] = trio.run(sweep, up, proxy, rates, 2.0 if quick else 5.0)
    print("concurrent streams ...", file=sys.stderr)
    results["streams"] = []
    for count in [200] if quick else [1000, 5000]:
        # 8 s streams, a chunk every 2 s: many streams held open, at a moderate chunk rate.
        with upstream(work, chunks=4, delay=2.0) as slow, gateway(work, slow) as (proxy, pid):
            outcome = trio.run(many_streams, proxy, count)
            results["streams"].append(
                {"streams": count, **outcome, "peak_rss_mb": peak_rss_mb(pid)}
            )
    print("pool size ...", file=sys.stderr)
    results["pool"] = {}
    for keys in (10, 10_000):
        with upstream(work) as up, gateway(work, up, keys) as (proxy, _pid):
            measured = trio.run(interleaved, up, proxy, rounds // 2, False)
            results["pool"][str(keys)] = measured["seconds"]["added"]
    return results


def report(results: dict[str, Any]) -> str:
    unary, stream = results["unary"]["seconds"], results["stream"]
    lines = ["", "trioproxy benchmark" + (" (quick)" if results["quick"] else ""), ""]
    lines.append(f"{'':34}{'p50':>9}{'p90':>9}{'p99':>9}  ms")
    rows = [
        ("unary, direct", unary["direct"]),
        ("unary, through trioproxy", unary["proxied"]),
        ("unary, added", unary["added"]),
        ("stream first token, direct", stream["first_byte"]["direct"]),
        ("stream first token, added", stream["first_byte"]["added"]),
        ("stream last token, added", stream["seconds"]["added"]),
    ]
    rows += [(f"pool of {n} keys, added", added) for n, added in results["pool"].items()]
    for name, values in rows:
        lines.append(f"{name:34}" + "".join(f"{values[p]:>9.2f}" for p in ("p50", "p90", "p99")))
    lines.append("")
    lines.append(f"{'open-loop rate':>16}{'achieved':>10}{'p50 ms':>9}{'p99 ms':>9}  errors")
    throughput = results["throughput"]
    for step in throughput["steps"]:
        latency = step["latency_ms"]
        lines.append(
            f"{step['target']:>16}{step['rate']:>10.0f}{latency['p50']:>9.2f}"
            f"{latency['p99']:>9.2f}  {step['errors'] or 0}"
        )
    ceiling = throughput["direct_ceiling"]
    lines.append(f"held with p99 < 50 ms and no errors: {throughput['held']} req/s "
                 f"(upstream direct, 20 clients: {ceiling['rate']:.0f} req/s)")  # fmt: skip
    for entry in results["streams"]:
        ok = entry["requests"] - sum(entry["errors"].values())
        lines.append(
            f"{entry['streams']} concurrent 8 s streams: {ok} complete, errors "
            f"{entry['errors'] or 0}, gateway peak RSS {entry['peak_rss_mb']:.0f} MB"
        )
    lines.append("")
    lines += verdicts(results)
    return "\n".join(lines)


def verdicts(results: dict[str, Any]) -> list[str]:
    added = results["unary"]["seconds"]["added"]
    ttft = results["stream"]["first_byte"]["added"]["p50"]
    pool = results["pool"]
    flat = pool["10000"]["p50"] <= pool["10"]["p50"] * 1.1 + 0.05
    big = results["streams"][-1]
    held = results["throughput"]["held"]
    rss = big["peak_rss_mb"]
    checks = [
        (f"card: added p99 {added['p99']:.2f} ms < {CARD_MS} ms", added["p99"] < CARD_MS),
        (f"target: added p50 {added['p50']:.2f} ms <= 1 ms", added["p50"] <= TARGET_P50_MS),
        (f"target: added p99 {added['p99']:.2f} ms <= 3 ms", added["p99"] <= TARGET_P99_MS),
        (f"target: added first token p50 {ttft:.2f} ms <= 1 ms", ttft <= TARGET_TTFT_MS),
        (f"target: {held} req/s held >= {TARGET_RATE}", held >= TARGET_RATE),
        (f"target: {big['streams']} streams in {rss:.0f} MB <= 300 MB", rss <= 300),
        (
            f"target: 10,000 keys within 10% of 10 keys "
            f"({pool['10000']['p50']:.2f} vs {pool['10']['p50']:.2f} ms)",
            flat,
        ),
    ]
    if big["errors"]:
        checks.append((f"{big['streams']} streams: errors {big['errors']}", False))
    return [f"{'PASS' if ok else 'MISS'}  {text}" for text, ok in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run, under a minute")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    results = run(args)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
