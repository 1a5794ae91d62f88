"""The leak test: every byte the gateway produces, searched for every secret it knows.

A `trioproxy serve` child with distinctive upstream keys, a client key and an admin
token goes through every path that could echo one: success (unary and stream), a wrong
client key, a 429, an invalid key, an upstream error body that echoes the key in a URL
and in headers, a reload with a bad file holding a secret, every admin call, a project
token minted, used (unary, stream, models, a near miss), inspected, limited and revoked
through the management API, the metrics, the export, shutdown; then a second run on the
JSON fallback. Searched: the child's stderr, every response (status line, headers, body;
but the one answer that mints the token), the metrics, the exports, the SQLite files
(state and access), the usage event log and the JSON snapshot. The count of hits must be zero.

Also here: the admin's overrides survive a restart (they live in the same state).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.e2e.conftest import CLIENT_KEY, KEYS
from tests.e2e.gateway_process import gateway_process, write_keys
from trioproxy.fakes.gemini import SimulatedGemini

ADMIN_TOKEN = "admin-LEAKCHECK-token-7f3a9c"
MANAGEMENT_TOKEN = "manage-LEAKCHECK-token-0b5e2d"
# The project token minted in the test is added once it exists.
SECRETS = [*KEYS.values(), CLIENT_KEY, ADMIN_TOKEN, MANAGEMENT_TOKEN]
MODEL = "gemini-2.5-flash"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}


class Recorder:
    """An httpx client that keeps every response it got, whole."""

    def __init__(self, base_url: str) -> None:
        self.seen: list[bytes] = []
        self.http = httpx.AsyncClient(
            base_url=base_url, event_hooks={"response": [self._keep]}, timeout=30
        )

    async def _keep(self, response: httpx.Response) -> None:
        await response.aread()
        head = f"{response.status_code}\n" + "\n".join(
            f"{k}: {v}" for k, v in response.headers.items()
        )
        self.seen.append(head.encode() + b"\n\n" + response.content)

    async def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.request(method, path, headers=headers, **kw)
        return response


async def _use_a_project_token(rec: Recorder) -> None:
    """Mint a project token (the one answer allowed to hold it is set aside), use it in
    every way, look at it through the management API, revoke it, use it again."""

    async def manage(method: str, path: str, body: Any = None) -> Any:
        answer = await rec.call(method, path, token=MANAGEMENT_TOKEN, json=body)
        assert answer.status_code in (200, 201), (path, answer.text)
        return answer.json()

    await manage("POST", "/manage/projects", {"name": "leaks", "limits": {"requests_per_hour": 9}})
    minted = await manage("POST", "/manage/tokens", {"project": "leaks", "name": "ci"})
    rec.seen.pop()  # the creation answer: the only place the token may appear
    token = minted["token"]
    SECRETS.append(token)
    for body in (CHAT, {**CHAT, "stream": True}):
        assert (await rec.call("POST", "/v1/chat/completions", token=token, json=body)).is_success
    assert (await rec.call("GET", "/v1/models", token=token)).is_success
    near_miss = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    wrong = await rec.call("POST", "/v1/chat/completions", token=near_miss, json=CHAT)
    assert wrong.status_code == 401
    for path in ("/manage/projects", "/manage/projects/leaks", "/manage/tokens",
                 f"/manage/tokens/{minted['id']}", "/manage/openapi.json"):  # fmt: skip
        await manage("GET", path)
    await manage("PATCH", f"/manage/tokens/{minted['id']}", {"limits": {"requests_per_minute": 5}})
    await manage("POST", f"/manage/tokens/{minted['id']}/revoke")
    # An operator pastes the token where its id goes: refused, and not echoed or logged.
    pasted = await rec.call("GET", f"/manage/tokens/{token}", token=MANAGEMENT_TOKEN)
    assert pasted.status_code == 400
    revoked = await rec.call("POST", "/v1/chat/completions", token=token, json=CHAT)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["message"] == "Invalid or expired token."


def hits(blob: bytes) -> list[str]:
    return [secret for secret in SECRETS if secret.encode() in blob]


async def test_no_secret_in_anything_the_gateway_produces(
    sim: SimulatedGemini, tmp_path: Path
) -> None:
    config = tmp_path / "keys.yaml"
    data = tmp_path / "data"
    clients = [{"name": "app", "key": CLIENT_KEY}]
    write_keys(config, sim.url, ["key-a", "key-b", "key-c"], clients=clients)  # type: ignore[attr-defined]
    env = {"TRIOPROXY_ADMIN_TOKEN": ADMIN_TOKEN, "TRIOPROXY_MANAGEMENT_TOKEN": MANAGEMENT_TOKEN}
    produced: list[bytes] = []
    async with gateway_process(config, data, env=env) as gateway:
        rec = Recorder(gateway.url)
        async with rec.http:
            # Success, unary and streamed; a wrong client key.
            assert (
                await rec.call("POST", "/v1/chat/completions", token=CLIENT_KEY, json=CHAT)
            ).status_code == 200
            streamed = await rec.call(
                "POST", "/v1/chat/completions", token=CLIENT_KEY, json={**CHAT, "stream": True}
            )
            assert streamed.status_code == 200
            assert (
                await rec.call("POST", "/v1/chat/completions", token="sk-wrong", json=CHAT)
            ).status_code == 401
            # An upstream that echoes the key it was called with, on every key: the last
            # error's text reaches the client (503: no key left to try).
            sim.faults.add("echo_key", times=3)
            echoed = await rec.call("POST", "/v1/chat/completions", token=CLIENT_KEY, json=CHAT)
            assert echoed.status_code == 503
            assert "?key=[redacted]" in echoed.json()["error"]["message"]
            sim.faults.add("echo_key", times=3)
            streamed = await rec.call(
                "POST", "/v1/chat/completions", token=CLIENT_KEY, json={**CHAT, "stream": True}
            )
            assert streamed.status_code == 503
            # A 429 and an invalid key.
            sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
            sim.faults.add("invalid_key", key=KEYS["key-b"])
            served = await rec.call("POST", "/v1/chat/completions", token=CLIENT_KEY, json=CHAT)
            assert served.status_code == 200
            sim.faults.clear()
            # A reload with a bad file that holds a secret in a bad field.
            mark = len(gateway.lines)
            config.write_text(config.read_text() + f"\nbogus_field: {KEYS['key-a']}\n")
            await gateway.wait_msg("config reload failed: keeping the running config", after=mark)
            # Back as it was: the same bytes as the running config, so no reload follows.
            write_keys(config, sim.url, ["key-a", "key-b", "key-c"], clients=clients)  # type: ignore[attr-defined]
            # Every admin call, the status, the metrics.
            for method, path, body in [
                ("GET", "/admin/keys", None),
                ("GET", "/admin/keys/key-b", None),
                ("POST", "/admin/keys/key-c/disable", {"reason": "leak check"}),
                ("POST", "/admin/keys/key-c/enable", None),
                ("POST", "/admin/keys/key-a/reset", None),
                ("PATCH", "/admin/keys/key-a", {"weight": 2}),
                ("POST", "/admin/reload", None),
                ("GET", "/admin/decisions", None),
                ("GET", "/admin/openapi.json", None),
                ("GET", "/v1/status", None),
                ("GET", "/readyz", None),
            ]:
                answer = await rec.call(method, path, token=ADMIN_TOKEN, json=body)
                assert answer.status_code == 200, (path, answer.text)
            assert (await rec.call("GET", "/admin/keys", token="wrong")).status_code == 401
            await _use_a_project_token(rec)
            metrics = await rec.call("GET", "/metrics")
            assert "trioproxy_key_outcomes_total" in metrics.text
            exported = await rec.call("GET", "/admin/state", token=ADMIN_TOKEN)
            assert (
                await rec.call("PUT", "/admin/state", token=ADMIN_TOKEN, json=exported.json())
            ).status_code == 200
        cli_export = tmp_path / "export.json"
        result = await trio.to_thread.run_sync(
            lambda: subprocess.run(
                [sys.executable, "-m", "trioproxy", "state", "export", str(cli_export),
                 "--data-dir", str(data)],
                capture_output=True,
                timeout=60,
            )
        )  # fmt: skip
        assert result.returncode == 0
        produced += [result.stdout, result.stderr, cli_export.read_bytes()]
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    produced += [bytes(gateway.raw), *rec.seen]
    produced += [path.read_bytes() for path in data.iterdir() if path.is_file()]
    assert any(path_is_sqlite(p) for p in produced)  # the database itself is searched

    # A second run on the JSON fallback: its snapshot is searched too.
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TRIOPROXY_ADMIN_TOKEN": ADMIN_TOKEN, "TMPDIR": str(temp)}
    async with gateway_process(config, blocker / "data", env=env) as fallback:
        sim.faults.add("rate_limit_minute", key=KEYS["key-a"], retry_delay="600s")
        rec = Recorder(fallback.url)
        async with rec.http:
            for _ in range(3):
                await rec.call("POST", "/v1/chat/completions", token=CLIENT_KEY, json=CHAT)
        fallback.signal(signal.SIGTERM)
        assert await fallback.exit_code() == 0
    snapshots = list(temp.rglob("state.json"))
    assert len(snapshots) == 1
    assert b"key-a" in snapshots[0].read_bytes()
    produced += [bytes(fallback.raw), *rec.seen, snapshots[0].read_bytes()]

    found = {secret for blob in produced for secret in hits(blob)}
    assert found == set(), f"leaked: {sorted(found)}"
    # The search itself works: a planted secret is found.
    assert hits(b"xx" + KEYS["key-b"].encode()) == [KEYS["key-b"]]


def path_is_sqlite(blob: bytes) -> bool:
    return blob.startswith(b"SQLite format 3")


async def test_admin_overrides_survive_a_restart(sim: SimulatedGemini, tmp_path: Path) -> None:
    config = tmp_path / "keys.yaml"
    data = tmp_path / "data"
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    env = {"TRIOPROXY_ADMIN_TOKEN": ADMIN_TOKEN}
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with gateway_process(config, data, env=env) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, headers=auth) as http:
            assert (await http.patch("/admin/keys/key-a", json={"priority": 2})).status_code == 200
            assert (await http.post("/admin/keys/key-b/disable")).status_code == 200
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
    async with gateway_process(config, data, env=env) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, headers=auth) as http:
            a = (await http.get("/admin/keys/key-a")).json()
            b = (await http.get("/admin/keys/key-b")).json()
        assert a["override"] == {"weight": None, "priority": 2}
        assert (a["priority"], a["configured"]["priority"]) == (2, 0)
        assert b["state"] == "disabled"
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0
