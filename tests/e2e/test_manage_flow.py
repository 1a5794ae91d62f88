"""The README's client-access flow, as an operator runs it: `trioproxy serve` as a child
process, `trioproxy manage` commands as further processes, the openai SDK as the client.
Create a project, mint a token, call with it (one request, then a burst), list, revoke;
then the usage event log, the usage totals and the revocation, across a restart.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
import trio

from tests.e2e.gateway_process import REPO, gateway_process, write_keys
from trioproxy.fakes.gemini import SimulatedGemini

MANAGEMENT = "manage-flow-token-9d41"
MODEL = "gemini-2.5-flash"
BURST = 60


async def manage(url: str, *args: str) -> tuple[int, str, str]:
    """`trioproxy manage ARGS` against the gateway at `url`: (exit code, stdout, stderr)."""
    env = {**os.environ, "TRIOPROXY_URL": url, "TRIOPROXY_MANAGEMENT_TOKEN": MANAGEMENT}
    result = await trio.run_process(
        [sys.executable, "-m", "trioproxy", "manage", *args],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env=env,
        cwd=REPO,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def manage_json(url: str, *args: str) -> Any:
    code, out, err = await manage(url, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def client(url: str, token: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0)


async def chat(url: str, token: str) -> Any:
    # Closed after the call: a keep-alive connection left open would hold up shutdown.
    async with client(url, token) as sdk:
        return await sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )


async def test_the_readme_flow_with_the_cli(sim: SimulatedGemini, tmp_path: Path) -> None:
    config, data = tmp_path / "keys.yaml", tmp_path / "data"
    write_keys(config, sim.url, ["key-a", "key-b"])  # type: ignore[attr-defined]
    env = {"TRIOPROXY_MANAGEMENT_TOKEN": MANAGEMENT}
    async with gateway_process(config, data, env=env) as gateway:
        url = gateway.url
        code, out, err = await manage(
            url, "project", "create", "billing", "--description", "payments team", "--rpm", "1000"
        )
        assert code == 0, err
        assert "billing" in out
        code, out, _ = await manage(
            url, "token", "generate", "--project", "billing", "--name", "ci"
        )
        assert code == 0
        # Shown once, readable: the secret is on its own line.
        token = next(word for word in out.split() if word.startswith("tp-"))
        minted = (await manage_json(url, "token", "list", "--project", "billing"))["tokens"][0]
        assert minted["name"] == "ci"
        assert minted["state"] == "active"

        answers = []

        async def one() -> None:
            answers.append(await chat(url, token))

        async with trio.open_nursery() as nursery:
            for _ in range(BURST):
                nursery.start_soon(one)
        assert len(answers) == BURST
        prompt = sum(answer.usage.prompt_tokens for answer in answers)
        completion = sum(answer.usage.completion_tokens for answer in answers)

        code, out, _ = await manage(url, "token", "list")
        assert code == 0
        assert minted["id"] in out
        code, out, _ = await manage(url, "token", "revoke", minted["id"])
        assert code == 0
        assert "revoked" in out
        with pytest.raises(openai.AuthenticationError):
            await chat(url, token)
        # A wrong management token: a clear error, exit 1.
        bad_env = {**os.environ, "TRIOPROXY_URL": url, "TRIOPROXY_MANAGEMENT_TOKEN": "wrong"}
        refused = await trio.run_process(
            [sys.executable, "-m", "trioproxy", "manage", "project", "list"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=bad_env,
            cwd=REPO,
        )
        assert refused.returncode == 1
        assert b"Missing or incorrect management token" in refused.stderr
        gateway.signal(signal.SIGTERM)
        assert await gateway.exit_code() == 0

    # One usage event per request the token made, with its project and id, never itself.
    log = (data / "usage.jsonl").read_text()
    events = [json.loads(line) for line in log.splitlines()]
    mine = [event for event in events if event.get("token_id") == minted["id"]]
    assert len(mine) == BURST
    assert all(event["project"] == "billing" and event["status"] == 200 for event in mine)
    assert sum(event["prompt_tokens"] for event in mine) == prompt
    for blob in [log.encode(), gateway.raw, *(p.read_bytes() for p in data.iterdir())]:
        assert token.encode() not in blob
        assert MANAGEMENT.encode() not in blob

    # After a restart: the totals were saved, and the revoked token stays revoked.
    async with gateway_process(config, data, env=env) as restarted:
        project = await manage_json(restarted.url, "project", "get", "billing")
        assert project["usage"]["requests"] == BURST
        assert project["usage"]["prompt_tokens"] == prompt
        assert project["usage"]["completion_tokens"] == completion
        assert project["limits"]["requests_per_minute"] == 1000
        saved = await manage_json(restarted.url, "token", "get", minted["id"])
        assert saved["state"] == "revoked"
        assert saved["usage"]["requests"] == BURST
        with pytest.raises(openai.AuthenticationError):
            await chat(restarted.url, token)
        code, _, _ = await manage(restarted.url, "project", "delete", "billing")
        assert code == 0
        assert (await manage_json(restarted.url, "project", "list"))["projects"] == []
        restarted.signal(signal.SIGTERM)
        assert await restarted.exit_code() == 0
