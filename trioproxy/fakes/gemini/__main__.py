"""`python -m trioproxy.fakes.gemini --bind 127.0.0.1:4807 --keys k1,k2 [--any-key] ...`"""

from __future__ import annotations

import argparse
import sys

import trio

from trioproxy.serving import serve_app

from .app import SimulatedGemini


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trioproxy.fakes.gemini")
    parser.add_argument("--bind", default="127.0.0.1:4807")
    parser.add_argument("--keys", default="", help="comma-separated valid API keys")
    parser.add_argument("--any-key", action="store_true", help="accept any non-empty key")
    parser.add_argument("--chunks", type=int, default=3, help="text pieces per stream")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--rpm", type=int, default=None, help="requests/minute per project+model")
    parser.add_argument("--rpd", type=int, default=None, help="requests/day per project+model")
    parser.add_argument(
        "--max-records", type=int, default=10000, help="request records kept (oldest dropped)"
    )
    args = parser.parse_args(argv)
    sim = SimulatedGemini(
        keys=[k for k in args.keys.split(",") if k],
        any_key=args.any_key,
        chunks=args.chunks,
        chunk_delay=args.chunk_delay,
        latency=args.latency,
        rpm=args.rpm,
        rpd=args.rpd,
        record_limit=args.max_records,
    )

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_app, sim, args.bind)
            print(f"simulated Gemini listening on {url}", file=sys.stderr, flush=True)

    trio.run(run)


if __name__ == "__main__":
    main()
