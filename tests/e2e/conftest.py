"""End-to-end harness: the simulated Gemini and the real trioproxy app, each served by
hypercorn's trio worker on a real loopback socket, driven by the official openai SDK.

Every e2e test is also a secret-leak check: the autouse `no_secret_in_logs` fixture fails
the test if any configured key appears in any log record the test produced.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
import trio

from trioproxy.app import TrioProxyApp, create_app
from trioproxy.config import build_config
from trioproxy.fakes.gemini import SimulatedGemini
from trioproxy.logs import JsonFormatter
from trioproxy.runtime import Runtime
from trioproxy.secret import Secret
from trioproxy.serving import serve_app
from trioproxy.settings import Settings

# Key names -> secrets. The secrets look like real Gemini keys so a leak would be obvious.
KEYS = {
    "key-a": "AIzaSyE2E-secret-key-aaaaaaaaaaaaaaaa",
    "key-b": "AIzaSyE2E-secret-key-bbbbbbbbbbbbbbbb",
    "key-c": "AIzaSyE2E-secret-key-cccccccccccccccc",
    "key-d": "AIzaSyE2E-secret-key-dddddddddddddddd",
    "key-e": "AIzaSyE2E-secret-key-eeeeeeeeeeeeeeee",
}
CLIENT_KEY = "sk-e2e-client-secret-0123456789"
ALL_SECRETS = [*KEYS.values(), CLIENT_KEY]


def assert_no_secret(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text, "a configured secret leaked"


async def _check_body(response: Any) -> None:
    if "event-stream" not in response.headers.get("content-type", ""):
        await response.aread()
        assert_no_secret(response.text)
        assert_no_secret(str(response.headers))


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG)
    yield
    formatter = JsonFormatter()
    for record in caplog.records:
        assert_no_secret(formatter.format(record))
        assert_no_secret(repr(record.__dict__))


@pytest.fixture
async def sim(nursery: trio.Nursery) -> SimulatedGemini:
    simulated = SimulatedGemini(keys=KEYS.values())
    simulated.url = await nursery.start(serve_app, simulated)  # type: ignore[attr-defined]
    return simulated


@dataclass
class Proxy:
    url: str
    app: TrioProxyApp
    sim: SimulatedGemini

    def client(self, api_key: str = "unused") -> openai.AsyncOpenAI:
        # Every non-streamed body the gateway answers is checked for leaked secrets.
        http = openai.DefaultAsyncHttpxClient(event_hooks={"response": [_check_body]})
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, http_client=http
        )

    def sync_client(self, api_key: str = "unused") -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0)

    def key_of(self, name: str) -> str:
        return KEYS[name]

    async def settled(self) -> None:
        """Wait until no key has a call in flight (every lent key was given back)."""
        pool = self.app.gateway.pool
        if not any(key.inflight for key in pool.keys):
            return
        idle = trio.Event()
        release = pool.release

        def release_and_check(pick: Any, now: float) -> None:
            release(pick, now)
            if not any(key.inflight for key in pool.keys):
                idle.set()

        pool.release = release_and_check  # type: ignore[method-assign]
        try:
            with trio.fail_after(10):
                await idle.wait()
        finally:
            del pool.release

    def calls(self, name: str, rpc: str | None = None) -> int:
        if rpc is None:
            return self.sim.count(key=KEYS[name])
        return self.sim.count(key=KEYS[name], rpc=rpc)


StartProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def start_proxy(
    nursery: trio.Nursery, sim: SimulatedGemini, tmp_path: Path
) -> AsyncIterator[StartProxy]:
    async def start(
        keys: tuple[str, ...] = ("key-a", "key-b"),
        *,
        clients: bool = False,
        gateway: dict[str, Any] | None = None,
        aliases: dict[str, str] | None = None,
        key_fields: dict[str, dict[str, Any]] | None = None,
        upstream_fields: dict[str, Any] | None = None,
        admin_token: str | None = None,
        management_token: str | None = None,
        wall: Callable[[], float] | None = None,
        more_upstreams: tuple[dict[str, Any], ...] = (),
    ) -> Proxy:
        document: dict[str, Any] = {
            "upstreams": [
                {
                    "name": "gemini",
                    "type": "gemini",
                    "base_url": sim.url,  # type: ignore[attr-defined]
                    "keys": [
                        {"name": name, "key": KEYS[name], **(key_fields or {}).get(name, {})}
                        for name in keys
                    ],
                    **(upstream_fields or {}),
                },
                *more_upstreams,
            ],
        }
        if clients:
            document["clients"] = [{"name": "e2e", "key": CLIENT_KEY}]
        if gateway:
            document["gateway"] = gateway
        if aliases:
            document["aliases"] = aliases
        config = build_config(document, str(tmp_path / "keys.yaml"), {})
        settings = Settings(
            config_path=tmp_path / "keys.yaml",
            data_dir=tmp_path,
            event_log=tmp_path / "usage.jsonl",
            admin_token=Secret(admin_token) if admin_token else None,
            management_token=Secret(management_token) if management_token else None,
        )
        app = create_app(
            settings,
            runtime=Runtime(config, simulated=False),
            **({"wall": wall} if wall is not None else {}),
        )
        url = await nursery.start(serve_app, app)
        return Proxy(url, app, sim)

    return start


@pytest.fixture
async def proxy(start_proxy: StartProxy) -> Proxy:
    return await start_proxy()
