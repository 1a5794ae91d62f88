"""`trioproxy bench`: load any OpenAI-compatible endpoint (this gateway, another one, the
real API), or a Gemini endpoint (the simulated upstream, or Google), and report latency
percentiles, throughput, errors by status and, for streams, time to first token.

    trioproxy bench --base-url http://localhost:4806/v1 --requests 2000 --concurrency 50
    trioproxy bench --base-url http://localhost:4806/v1 --rate 500 --requests 5000 --stream
    trioproxy bench --endpoint gemini --base-url http://127.0.0.1:4807 --token k1
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx
import trio

from trioproxy.bench.load import Summary, Target, run_closed, run_open

ENDPOINTS = ("chat", "embeddings", "gemini")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", default="http://localhost:4806/v1")
    parser.add_argument(
        "--endpoint",
        choices=ENDPOINTS,
        default="chat",
        help="chat: POST /chat/completions; embeddings: POST /embeddings (both OpenAI); "
        "gemini: POST /v1beta/models/{model}:generateContent (a Gemini endpoint)",
    )
    parser.add_argument("--token", help="bearer token (gemini: the x-goog-api-key)")
    parser.add_argument("--model", default="gemini-2.5-flash")
    parser.add_argument("--requests", type=int, default=1000)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, default=10, help="closed loop: clients")
    load.add_argument("--rate", type=float, help="open loop: requests started per second")
    parser.add_argument("--stream", action="store_true", help="streamed answers (chat, gemini)")
    parser.add_argument("--prompt", default="Say hello")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def target(args: argparse.Namespace) -> Target:
    base = args.base_url.rstrip("/")
    headers: dict[str, str] = {}
    body: dict[str, Any]
    if args.endpoint == "gemini":
        rpc = "streamGenerateContent?alt=sse" if args.stream else "generateContent"
        url = f"{base}/v1beta/models/{args.model}:{rpc}"
        body = {"contents": [{"role": "user", "parts": [{"text": args.prompt}]}]}
        if args.token:
            headers["x-goog-api-key"] = args.token
    else:
        if args.token:
            headers["authorization"] = f"Bearer {args.token}"
        if args.endpoint == "embeddings":
            url, body = f"{base}/embeddings", {"model": args.model, "input": args.prompt}
        else:
            url = f"{base}/chat/completions"
            body = {
                "model": args.model,
                "messages": [{"role": "user", "content": args.prompt}],
                "stream": bool(args.stream),
            }
    content = json.dumps(body).encode()
    headers["content-type"] = "application/json"

    def build() -> httpx.Request:
        return httpx.Request("POST", url, content=content, headers=headers)

    return build


async def bench(args: argparse.Namespace) -> Summary:
    connections = int(args.rate * 2) if args.rate else args.concurrency
    limits = httpx.Limits(max_connections=max(connections, 10), max_keepalive_connections=None)
    timeout = httpx.Timeout(args.timeout)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        if args.rate:
            return await run_open(client, target(args), rate=args.rate, requests=args.requests)
        return await run_closed(
            client, target(args), requests=args.requests, concurrency=args.concurrency
        )


def run(args: argparse.Namespace) -> int:
    if args.requests < 1 or (args.rate is not None and args.rate <= 0) or args.concurrency < 1:
        print(
            "trioproxy bench: --requests, --rate and --concurrency must be positive",
            file=sys.stderr,
        )
        return 2
    summary = trio.run(bench, args)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(render(summary, args))
    return 0 if not summary.errors else 1


def render(summary: Summary, args: argparse.Namespace) -> str:
    mode = f"rate {args.rate:g}/s" if args.rate else f"concurrency {args.concurrency}"
    lines = [
        f"{args.endpoint} {args.base_url} ({'stream' if args.stream else 'unary'}, {mode})",
        f"  requests    {summary.requests} in {summary.elapsed:.2f} s = {summary.rate:.1f}/s",
        f"  errors      {summary.errors or 'none'}",
        "  latency ms  " + _row(summary.latency_ms),
    ]
    if summary.first_byte_ms and args.stream:
        lines.append("  first token " + _row(summary.first_byte_ms))
    return "\n".join(lines)


def _row(values: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.2f}" for name, value in values.items()) or "-"
