"""`trioproxy` command line.

trioproxy serve [--bind HOST:PORT] [--config PATH]   serve the gateway (hypercorn, trio)
trioproxy check-config [PATH]                        validate keys.yaml and exit
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import trio

from trioproxy import logs
from trioproxy.app import create_app
from trioproxy.config import ConfigError, load_config
from trioproxy.runtime import resolve
from trioproxy.serving import serve_app
from trioproxy.settings import Settings

DEFAULT_BIND = "0.0.0.0:4806"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trioproxy", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the gateway")
    serve.add_argument("--bind", default=os.environ.get("TRIOPROXY_BIND", DEFAULT_BIND))
    serve.add_argument("--config", type=Path, help="keys.yaml (default: $TRIOPROXY_CONFIG)")
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="seconds in-flight requests get to finish on shutdown",
    )
    check = commands.add_parser("check-config", help="validate keys.yaml and exit")
    check.add_argument("path", nargs="?", type=Path)
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return _check(args.path or settings.config_path)
    if args.config:
        settings = replace(settings, config_path=args.config)
    logs.configure(settings.log_level)
    try:
        runtime = resolve(settings)
    except ConfigError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    app = create_app(settings, runtime=runtime)
    trio.run(_serve, app, args.bind, args.graceful_timeout)
    return 0


def _check(path: Path) -> int:
    try:
        config = load_config(path)
    except ConfigError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    print(
        f"{path}: ok ({len(config.upstreams)} upstreams, {len(config.keys)} keys, "
        f"{len(config.clients)} clients)"
    )
    return 0


async def _serve(app: object, bind: str, graceful_timeout: float) -> None:
    async def shutdown_trigger() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                logs.event("shutting down", signal=signal.Signals(signum).name)
                return

    async with trio.open_nursery() as nursery:
        url = await nursery.start(
            partial(
                serve_app,
                app,
                bind,
                shutdown_trigger=shutdown_trigger,
                graceful_timeout=graceful_timeout,
            )
        )
        logs.event("listening", url=url)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
