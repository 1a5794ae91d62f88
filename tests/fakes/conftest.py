"""Serve a fresh SimulatedGemini per test on a loopback port; drive it with google-genai."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
import trio
from google import genai

from trioproxy.fakes.gemini import SimulatedGemini
from trioproxy.serving import serve_app

T = TypeVar("T")

KEYS = ["k1", "k2"]


@dataclass
class Served:
    sim: SimulatedGemini
    url: str

    def client(
        self, key: str = "k1", version: str = "v1beta", headers: dict[str, str] | None = None
    ) -> genai.Client:
        options = genai.types.HttpOptions(base_url=self.url, api_version=version, headers=headers)
        return genai.Client(api_key=key, http_options=options)


async def in_thread(fn: Callable[[], T]) -> T:
    """The SDK's sync client blocks (its aio client needs asyncio), so run it off the loop."""
    return await trio.to_thread.run_sync(fn)


@pytest.fixture
async def served(nursery: trio.Nursery) -> Served:
    sim = SimulatedGemini(keys=KEYS)
    url = await nursery.start(serve_app, sim)
    return Served(sim, url)
