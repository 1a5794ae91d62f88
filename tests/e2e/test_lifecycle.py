"""The gateway's life as a process: live reload of keys.yaml, state across restarts and
`kill -9`, the JSON fallback, and graceful shutdown with streams in flight.

Each test runs `trioproxy serve` as a child process against the simulated Gemini served
by the test (gateway_process.py), drives it with the openai SDK, and checks what the
upstream saw, what the child logged, and how it exited.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import trio

from tests.e2e.conftest import ALL_SECRETS, KEYS
from tests.e2e.gateway_process import GatewayProcess, gateway_process, write_keys
from trioproxy.fakes.gemini import SimulatedGemini
from trioproxy.state.store import read_state

MODEL = "gemini-2.5-flash"
ADMIN_TOKEN = "admin-token-e2e-0123456789"
# The simulation echoes the prompt, split into `chunks` pieces: long enough for 60.
PROMPT = " ".join(f"word{i}" for i in range(100))


def client(gateway: GatewayProcess) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)


async def ask(gateway: GatewayProcess, text: str = "hello") -> str:
    """One non-streamed chat completion; the name of the key that served it."""
    async with client(gateway) as api:
        raw = await api.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": text}]
        )
    return raw.headers["x-trioproxy-key"]


def assert_clean_exit(gateway: GatewayProcess) -> None:
    stderr = gateway.stderr
    for sign in ("Traceback", "never awaited", "ResourceWarning", "unclosed"):
        assert sign not in stderr, stderr
    for secret in ALL_SECRETS:
        assert secret not in stderr


def served_by(sim: SimulatedGemini, name: str) -> int:
    return sim.count(key=KEYS[name], rpc="generateContent", status=200)


class Stream:
    """A streamed chat completion collected by a background task."""

    def __init__(self) -> None:
        self.text = ""
        self.finish_reason: str | None = None
        self.error: openai.APIError | None = None
        self.started = trio.Event()
        self.ended = trio.Event()

    async def run(self, gateway: GatewayProcess) -> None:
        try:
            async with client(gateway) as api:
                stream = await api.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True
                )
                async for chunk in stream:
                    self.started.set()
                    if chunk.choices:
                        self.text += chunk.choices[0].delta.content or ""
                        self.finish_reason = chunk.choices[0].finish_reason or self.finish_reason
        except openai.APIError as error:
            self.error = error
        finally:
            self.ended.set()


async def start_streams(nursery: trio.Nursery, gateway: GatewayProcess, count: int) -> list[Stream]:
    streams = [Stream() for _ in range(count)]
    for stream in streams:
        nursery.start_soon(stream.run, gateway)
    with trio.fail_after(20):
        for stream in streams:
            await stream.started.wait()
    return streams


async def test_reload_applies_edits_while_streams_are_in_flight(
    sim: SimulatedGemini, tmp_path: Path, nursery: trio.Nursery
) -> None:
    config = tmp_path / "keys.yaml"
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    env = {"TRIOPROXY_ADMIN_TOKEN": ADMIN_TOKEN}
    async with gateway_process(config, tmp_path / "data", env=env) as gateway:
        sim.knobs.chunks, sim.knobs.chunk_delay = 12, 0.15  # streams of about 2 s
        streams = await start_streams(nursery, gateway, 4)

        # Remove key-a, add key-c, in place, while the four streams run.
        mark = len(gateway.lines)
        saved_at = time.time()
        write_keys(config, sim.url, ["key-b", "key-c"])  # type: ignore[attr-defined]
        reloaded = await gateway.wait_msg("config reloaded", after=mark)
        print(f"reload applied {reloaded['ts'] - saved_at:.3f} s after the save")
        assert (reloaded["added"], reloaded["removed"], reloaded["trigger"]) == (
            ["key-c"],
            ["key-a"],
            "file",
        )
        with trio.fail_after(20):
            for stream in streams:
                await stream.ended.wait()
        # Every stream in flight at the reload finished whole, key-a's included.
        assert all(s.error is None and s.finish_reason == "stop" for s in streams)
        assert all(s.text for s in streams)
        sim.knobs.chunks, sim.knobs.chunk_delay = 3, 0.0

        a_before = sim.count(key=KEYS["key-a"])
        served = [await ask(gateway) for _ in range(6)]
        assert set(served) == {"key-b", "key-c"}
        assert sim.count(key=KEYS["key-a"]) == a_before  # the removed key got nothing new

        # An invalid edit changes nothing and is reported.
        mark = len(gateway.lines)
        config.write_text("upstreams: [unclosed\n")
        failed = await gateway.wait_msg(
            "config reload failed: keeping the running config", after=mark
        )
        assert any("YAML error" in problem for problem in failed["problems"])
        assert {await ask(gateway) for _ in range(4)} == {"key-b", "key-c"}

        # A file renamed over keys.yaml (editors, deploy tools) is picked up.
        mark = len(gateway.lines)
        write_keys(config, sim.url, ["key-b", "key-c", "key-d"], atomic=True)  # type: ignore[attr-defined]
        reloaded = await gateway.wait_msg("config reloaded", after=mark)
        assert reloaded["added"] == ["key-d"]
        assert "key-d" in {await ask(gateway) for _ in range(6)}

        # SIGHUP reloads even an unchanged file; so does the admin API, with its token.
        mark = len(gateway.lines)
        gateway.signal(signal.SIGHUP)
        reloaded = await gateway.wait_msg("config reloaded", after=mark)
        assert reloaded["trigger"] == "SIGHUP"
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            assert (await http.post("/admin/reload")).status_code == 401
            wrong = {"authorization": "Bearer wrong"}
            assert (await http.post("/admin/reload", headers=wrong)).status_code == 401
            right = {"authorization": f"Bearer {ADMIN_TOKEN}"}
            answer = await http.post("/admin/reload", headers=right)
            assert answer.status_code == 200
            assert answer.json()["outcome"] == "applied"
            config.write_text("upstreams: 5\n")
            answer = await http.post("/admin/reload", headers=right)
            assert answer.status_code == 422
            assert answer.json()["error"]["problems"] == ["upstreams: must be a list, got int"]
            ready = (await http.get("/readyz")).json()
            assert ready["config"]["reload_failures"] >= 2
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)
    assert ADMIN_TOKEN not in gateway.stderr


async def test_cooldowns_and_daily_exhaustion_survive_a_restart(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    config = tmp_path / "keys.yaml"
    data = tmp_path / "data"
    write_keys(config, sim.url, ["key-a", "key-b", "key-c"])  # type: ignore[attr-defined]
    sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
    sim.faults.add("rate_limit_day", key=KEYS["key-b"])
    async with gateway_process(config, data) as gateway:
        # Round robin: a answers 429 (10 minutes), then b (out for the day), then c serves.
        assert await ask(gateway) == "key-c"
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)
    async with gateway_process(config, data) as gateway:
        restored = await gateway.wait_msg("state restored")
        assert restored["store"] == "sqlite"
        calls = sim.count()
        assert {await ask(gateway) for _ in range(5)} == {"key-c"}
        # Not one call reached the cooling or exhausted keys after the restart.
        assert sim.count() == calls + 5
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)


def cooling(state: Any, name: str) -> bool:
    scope = state.scopes.get(f"key:{name}")
    return scope is not None and bool(scope.cooldowns)


async def wait_for_saved(data: Path, check: Any) -> None:
    """Until the state the running gateway saved satisfies `check` (the writer runs each
    second in the child; this reads its database without locking it)."""
    with trio.fail_after(20):
        while not check(await trio.to_thread.run_sync(read_state, data)):  # noqa: ASYNC110
            # Another process's file: no event to wait on, so it is polled.
            await trio.sleep(0.1)


async def test_kill_9_under_load_leaves_a_clean_recent_database(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    config = tmp_path / "keys.yaml"
    data = tmp_path / "data"
    write_keys(config, sim.url, ["key-a", "key-b", "key-c"])  # type: ignore[attr-defined]
    async with gateway_process(config, data) as gateway:
        stop_load = trio.Event()
        answered = 0
        kill_after: int | None = None
        time_to_kill = trio.Event()

        async def load() -> None:
            nonlocal answered
            async with client(gateway) as api:
                while not stop_load.is_set():
                    try:
                        await api.chat.completions.create(
                            model=MODEL, messages=[{"role": "user", "content": "hi"}]
                        )
                        answered += 1
                        if kill_after is not None and answered >= kill_after:
                            time_to_kill.set()
                    except openai.APIConnectionError:
                        return  # killed

        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(load)
            sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
            await wait_for_saved(data, lambda state: cooling(state, "key-a"))
            # Kill mid-load, a few hundred requests (well past one flush) later.
            kill_after = answered + 300
            with trio.fail_after(60):
                await time_to_kill.wait()
            killed_at = time.time()
            gateway.signal(signal.SIGKILL)
            assert await gateway.exit_code() == -signal.SIGKILL
            stop_load.set()
    assert answered > 0
    with sqlite3.connect(data / "state.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    state = read_state(data)
    # The writer flushes every second under load; 3 s leaves room for a slow machine.
    print(f"state saved {killed_at - state.saved_at:.3f} s before the kill")
    assert state.saved_at >= killed_at - 3.0
    async with gateway_process(config, data) as gateway:
        calls = sim.count(key=KEYS["key-a"])
        assert "key-a" not in {await ask(gateway) for _ in range(6)}
        assert sim.count(key=KEYS["key-a"]) == calls
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)


async def test_an_unusable_database_falls_back_to_json_and_says_degraded(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    config = tmp_path / "keys.yaml"
    data = tmp_path / "data"
    data.mkdir()
    garbage = b"this is not a database" * 100
    (data / "state.sqlite3").write_bytes(garbage)
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
    async with gateway_process(config, data) as gateway:
        opened = await gateway.wait_msg("state store opened")
        assert (opened["store"], opened["degraded"]) == ("json", True)
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["store"]["kind"] == "json"
        assert await ask(gateway) == "key-b"  # served, a cooled
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)
    # The operator's file is untouched; the state went to the JSON snapshot.
    assert (data / "state.sqlite3").read_bytes() == garbage
    assert (data / "state.json").exists()
    async with gateway_process(config, data) as gateway:
        assert {await ask(gateway) for _ in range(3)} == {"key-b"}
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0


async def test_an_unwritable_data_dir_falls_back_to_a_json_snapshot_elsewhere(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    # A data dir below a regular file can be neither created nor written, whoever runs
    # the test (root ignores permission bits, so chmod would not do).
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    data = blocker / "data"
    temp = tmp_path / "tmp"  # the child's temp dir, where the fallback snapshot goes
    temp.mkdir()
    config = tmp_path / "keys.yaml"
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
    env = {"TMPDIR": str(temp)}
    async with gateway_process(config, data, env=env) as gateway:
        opened = await gateway.wait_msg("state store opened")
        assert (opened["store"], opened["degraded"]) == ("json", True)
        assert str(opened["location"]).startswith(str(temp))
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            ready = (await http.get("/readyz")).json()
        assert (ready["status"], ready["store"]["kind"]) == ("degraded", "json")
        assert await ask(gateway) == "key-b"
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)
    snapshots = list(temp.rglob("state.json"))
    assert len(snapshots) == 1
    assert "key-a" in snapshots[0].read_text()
    # The next run finds the snapshot in the same place: a is still cooling.
    async with gateway_process(config, data, env=env) as gateway:
        assert {await ask(gateway) for _ in range(3)} == {"key-b"}
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0


async def test_sigterm_lets_streams_finish_within_the_grace_and_ends_the_rest_cleanly(
    sim: SimulatedGemini, tmp_path: Path, nursery: trio.Nursery
) -> None:
    config = tmp_path / "keys.yaml"
    data = tmp_path / "data"
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    async with gateway_process(config, data, grace=3.0) as gateway:
        sim.knobs.chunk_delay = 0.2
        sim.knobs.chunks = 60  # 12 s: longer than the grace
        long = await start_streams(nursery, gateway, 2)
        sim.knobs.chunks = 5  # 1 s: well inside it
        short = await start_streams(nursery, gateway, 3)
        sim.faults.add("hang", rpc="generateContent")
        unary: list[BaseException] = []

        async def hung_request() -> None:
            try:
                await ask(gateway)
            except openai.APIStatusError as error:
                unary.append(error)

        nursery.start_soon(hung_request)
        await sim.wait_for(rpc="generateContent", fault="hang")
        mark = len(gateway.lines)
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
        with trio.fail_after(10):
            for stream in (*long, *short):
                await stream.ended.wait()
    # Streams that could finish within the grace did, whole.
    assert all(s.error is None and s.finish_reason == "stop" for s in short)
    # The others got a clean end: text so far, then the shutdown error event.
    for stream in long:
        assert stream.text
        assert stream.error is not None
        assert "shutting down" in str(stream.error)
    assert len(unary) == 1
    assert isinstance(unary[0], openai.APIStatusError)
    assert unary[0].status_code == 503
    assert unary[0].body["code"] == "gateway_shutting_down"  # type: ignore[index]
    # Their upstream calls were cancelled, not left running.
    open_streams = [r for r in sim.recorder.records if r.streaming and not r.completed]
    assert len(open_streams) == 2
    assert all(r.cancelled or r.disconnected for r in open_streams)
    # Then, in order: the services stopped (state writer last) and the process ended.
    messages = gateway.messages()[mark:]
    order = [m for m in messages if m in ("shutting down", "service stopped", "stopped")]
    assert order == ["shutting down", *["service stopped"] * 5, "stopped"]
    stopped = [
        line["service"] for line in gateway.lines[mark:] if line.get("msg") == "service stopped"
    ]
    assert stopped == [
        "health prober",
        "config watcher",
        "event writer",
        "usage writer",
        "state writer",
    ]
    assert_clean_exit(gateway)
    state = read_state(data)
    assert sum(row.requests for row in state.usage.values()) >= 5
    # The event writer, stopped after every request ended, wrote one event per request,
    # the cut ones included.
    events = [json.loads(line) for line in (data / "usage.jsonl").read_text().splitlines()]
    chat = [e for e in events if e["route"] == "/v1/chat/completions"]
    assert len(chat) == 6
    assert sorted(e.get("completed") for e in chat if e["stream"]) == [False, False] + [True] * 3
    assert [e["status"] for e in chat if not e["stream"]] == [503]


def run_cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trioproxy", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_state_moves_between_instances_with_export_and_import(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    config = tmp_path / "keys.yaml"
    first, second = tmp_path / "first", tmp_path / "second"
    exported = tmp_path / "state.json"
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    sim.faults.add("rate_limit_day", key=KEYS["key-a"])
    async with gateway_process(config, first) as gateway:
        assert await ask(gateway) == "key-b"
        await wait_for_saved(first, lambda state: cooling(state, "key-a"))
        # Export works while the gateway runs; import into a running one's directory is
        # refused, because the gateway would overwrite it.
        result = await trio.to_thread.run_sync(
            lambda: run_cli("state", "export", str(exported), data=first)
        )
        assert result.returncode == 0, result.stderr
        refused = await trio.to_thread.run_sync(
            lambda: run_cli("state", "import", str(exported), data=first)
        )
        assert refused.returncode == 2
        assert "in use by another trioproxy process" in refused.stderr
        assert "stop it before importing" in refused.stderr
        # A second gateway on the same data directory does not start.
        second_gateway = await trio.to_thread.run_sync(
            lambda: subprocess.run(
                [sys.executable, "-m", "trioproxy", "serve", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "TRIOPROXY_DATA_DIR": str(first)},
            )
        )
        assert second_gateway.returncode == 2
        assert "in use by another trioproxy process" in second_gateway.stderr
        assert "Traceback" not in second_gateway.stderr
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    text = exported.read_text()
    assert all(secret not in text for secret in ALL_SECRETS)
    assert json.loads(text)["format"] == "trioproxy-state"
    result = run_cli("state", "import", str(exported), data=second)
    assert result.returncode == 0, result.stderr
    assert "imported the state of 2 keys" in result.stderr
    async with gateway_process(config, second) as gateway:
        assert {await ask(gateway) for _ in range(3)} == {"key-b"}  # a: out for the day
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "something-else"}')
    result = run_cli("state", "import", str(broken), data=second)
    assert result.returncode == 2
    assert "not a trioproxy-state document" in result.stderr


async def test_sighup_reloads_with_the_file_watcher_off(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    config = tmp_path / "keys.yaml"
    write_keys(config, sim.url, ["key-a"])  # type: ignore[attr-defined]
    env = {"TRIOPROXY_WATCH_CONFIG": "off"}
    async with gateway_process(config, tmp_path / "data", env=env) as gateway:
        started = [line.get("service") for line in gateway.lines if "service" in line]
        assert "config watcher" not in started
        write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
        mark = len(gateway.lines)
        gateway.signal(signal.SIGHUP)
        reloaded = await gateway.wait_msg("config reloaded", after=mark)
        assert (reloaded["trigger"], reloaded["added"]) == ("SIGHUP", ["key-b"])
        assert {await ask(gateway) for _ in range(4)} == {"key-a", "key-b"}
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    assert_clean_exit(gateway)
