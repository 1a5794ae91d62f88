"""`trioproxy` command line.

trioproxy serve [--bind HOST:PORT] [--config PATH] [--graceful-timeout S]
                                     serve the gateway (hypercorn, trio worker)
trioproxy check-config [PATH]        validate keys.yaml and exit
trioproxy state export FILE          write the saved pool state as JSON ("-": stdout)
trioproxy state import FILE          replace the saved pool state (gateway stopped)
trioproxy bench [--base-url URL] ...  load an endpoint, report latency (trioproxy.bench)
trioproxy manage project|token ...   projects and client tokens (trioproxy.tenancy)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from trioproxy.bench import cli as bench_cli
from trioproxy.settings import Settings
from trioproxy.tenancy import manage_cli

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
        help="seconds in-flight requests, streams included, get to finish on shutdown "
        "(default: $TRIOPROXY_GRACEFUL_TIMEOUT or 30)",
    )
    check = commands.add_parser("check-config", help="validate keys.yaml and exit")
    check.add_argument("path", nargs="?", type=Path)
    state = commands.add_parser("state", help="export or import the saved pool state")
    state_commands = state.add_subparsers(dest="action", required=True)
    for action, text in (
        ("export", "write the state as JSON (works while a gateway runs)"),
        ("import", "replace the state with a JSON export (the gateway must be stopped)"),
    ):
        verb = state_commands.add_parser(action, help=text)
        verb.add_argument("file", help='a JSON file; "-" for stdout / stdin')
        verb.add_argument("--data-dir", type=Path, help="default: $TRIOPROXY_DATA_DIR or data")
    bench_parser = commands.add_parser(
        "bench", help="load an OpenAI-compatible (or Gemini) endpoint and report latency"
    )
    bench_cli.add_arguments(bench_parser)
    manage = commands.add_parser(
        "manage", help="projects and client tokens on a running gateway (management API)"
    )
    manage_cli.add_arguments(manage)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench_cli.run(args)
    if args.command == "manage":
        return manage_cli.run(args)

    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"trioproxy: {error}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return _check(args.path or settings.config_path)
    if args.command == "state":
        data_dir = args.data_dir or settings.data_dir
        if data_dir is None:
            print("trioproxy: TRIOPROXY_DATA_DIR is off: there is no saved state", file=sys.stderr)
            return 2
        from trioproxy.state import state_file

        return state_file.run(args.action, args.file, data_dir)
    # Imported here: the server's stack is heavy, and `manage`, `bench` and `state`
    # should start in a fraction of a second.
    from trioproxy import serve_command

    return serve_command.run(args, settings)


def _check(path: Path) -> int:
    from trioproxy.config import ConfigError, load_config

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
