"""`trioproxy serve` as a real child process, for what only a process can show: reloads
from a file edited on disk, signals, restarts, `kill -9`, exit codes.

The simulated Gemini runs in the test process (the `sim` fixture) on a loopback port the
child's keys.yaml points at, so a test can steer the upstream and read what it saw. The
child's stderr (JSON log lines) is collected as it comes; `wait_for` waits for a line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import yaml

from tests.e2e.conftest import KEYS

REPO = Path(__file__).parents[2]
Line = dict[str, Any]
# Bounds on waiting for the child (real time: a separate process has no virtual clock).
LINE_TIMEOUT = 60.0
EXIT_TIMEOUT = 60.0


def write_keys(
    path: Path, upstream_url: str, names: Iterable[str], *, atomic: bool = False, **extra: Any
) -> None:
    """keys.yaml with the named e2e keys. `atomic`: written beside and renamed over the
    file, as editors and deploy tools do."""
    document = {
        "upstreams": [
            {
                "name": "gemini",
                "type": "gemini",
                "base_url": upstream_url,
                "keys": [{"name": name, "key": KEYS[name]} for name in names],
            }
        ],
        **extra,
    }
    text = yaml.safe_dump(document)
    if atomic:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    else:
        path.write_text(text)


@dataclass
class GatewayProcess:
    process: trio.Process
    lines: list[Line] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    url: str = ""
    _new_line: trio.Event = field(default_factory=trio.Event)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        buffer = b""
        async for data in self.process.stderr:
            self.raw += data
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            for text in complete:
                try:
                    line = json.loads(text)
                except ValueError:
                    line = {"raw": text.decode(errors="replace")}
                self.lines.append(line if isinstance(line, dict) else {"raw": line})
            self._new_line.set()
            self._new_line = trio.Event()
        self._new_line.set()

    async def wait_for(self, predicate: Callable[[Line], bool], *, after: int = 0) -> Line:
        """The first log line from index `after` on that satisfies `predicate` (bounded:
        a line that never comes fails the test instead of hanging it)."""
        with trio.fail_after(LINE_TIMEOUT):
            seen = after
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                if self.process.returncode is not None:
                    raise AssertionError(f"the gateway exited; stderr:\n{self.stderr}")
                await self._new_line.wait()

    async def wait_msg(self, message: str, *, after: int = 0) -> Line:
        return await self.wait_for(lambda line: line.get("msg") == message, after=after)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def exit_code(self) -> int:
        with trio.fail_after(EXIT_TIMEOUT):
            return await self.process.wait()

    @property
    def stderr(self) -> str:
        return self.raw.decode(errors="replace")

    def messages(self) -> list[str]:
        return [str(line.get("msg")) for line in self.lines]


@asynccontextmanager
async def gateway_process(
    config: Path,
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    grace: float = 30.0,
) -> AsyncIterator[GatewayProcess]:
    """Start `trioproxy serve` on a free loopback port; on exit, make sure it is gone."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "TRIOPROXY"))}
    environment.update(
        TRIOPROXY_DATA_DIR=str(data_dir),
        TRIOPROXY_SIMULATE="off",
        # Warnings Python hides by default (unclosed resources, coroutines never awaited)
        # are printed, so the tests that check stderr for them can see them.
        PYTHONWARNINGS="default",
        **dict(env or {}),
    )
    command = [sys.executable, "-m", "trioproxy", "serve", "--bind", "127.0.0.1:0"]
    command += ["--config", str(config), "--graceful-timeout", str(grace)]
    process = await trio.lowlevel.open_process(
        command, stderr=subprocess.PIPE, env=environment, cwd=REPO
    )
    gateway = GatewayProcess(process)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gateway._read)
        try:
            listening = await gateway.wait_msg("listening")
            gateway.url = str(listening["url"])
            yield gateway
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            with trio.move_on_after(30):
                await process.wait()
            nursery.cancel_scope.cancel()
