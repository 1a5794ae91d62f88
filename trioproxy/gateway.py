"""Everything a request needs, built from one Config: pool, dispatcher, upstream APIs.

One `Gateway` per config; a request reads `app.gateway` once (into `g.gateway`) and keeps
that object, so a reload, which swaps `app.gateway`, can never show a request half of one
config and half of another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

import httpx

from trioproxy.config.loader import MODEL_ID
from trioproxy.config.model import Config
from trioproxy.dispatch import Dispatcher
from trioproxy.drain import Drain
from trioproxy.errors import InvalidRequest
from trioproxy.observability.metrics import Metrics
from trioproxy.pool import KeyPool, KeyState
from trioproxy.pool.overrides import Override
from trioproxy.upstream import GeminiAPI

# Routing prefixes other gateways and SDKs put in front of Gemini model ids.
_PREFIXES = ("models/", "google/", "gemini/")


class Gateway:
    pool: KeyPool
    dispatcher: Dispatcher

    def __init__(
        self,
        config: Config,
        http: httpx.AsyncClient,
        *,
        base_url_override: str | None = None,
        wall: Callable[[], float] = time.time,
        previous: Gateway | None = None,
        drain: Drain | None = None,
        metrics: Metrics | None = None,
        overrides: Mapping[str, Override] | None = None,
    ) -> None:
        """`previous`: the gateway this one replaces on a reload; its keys' state and its
        decision records carry over (see KeyPool)."""
        self.config = config
        self.http = http
        self._successor: Gateway | None = None
        self.base_url_override = base_url_override
        self.wall = wall
        self.pool = KeyPool(
            config.keys,
            settings=config.gateway,
            policies={upstream.name: upstream.policy for upstream in config.upstreams},
            previous=previous.pool if previous is not None else None,
            overrides=overrides,
        )
        # The admin's overrides (a mapping the app keeps and changes; shared by successors).
        self.overrides = overrides if overrides is not None else {}
        self.apis = {
            upstream.name: GeminiAPI(
                replace(upstream, base_url=base_url_override) if base_url_override else upstream
            )
            for upstream in config.upstreams
        }
        # `wall` (UNIX time) only places daily quota resets; everything else runs on the
        # trio clock. Tests pass one that follows their virtual clock.
        self.dispatcher = Dispatcher(
            self.pool,
            http,
            config.gateway,
            wall=wall,
            decisions=previous.dispatcher.decisions if previous is not None else None,
            drain=drain,
            metrics=metrics,
        )

    def successor(self, config: Config) -> Gateway:
        """The gateway for a reloaded config: same client, same upstream override."""
        self._successor = Gateway(
            config,
            self.http,
            base_url_override=self.base_url_override,
            wall=self.wall,
            previous=self,
            drain=self.dispatcher.drain,
            metrics=self.dispatcher.metrics,
            overrides=self.overrides,
        )
        return self._successor

    def api_for(self, key: KeyState) -> GeminiAPI:
        """The API of the key's upstream. A request admitted before a reload may hold a
        key the reload moved to an upstream this gateway does not know: its successor
        does (the key's spec is always the latest config's)."""
        gateway = self
        while key.spec.upstream not in gateway.apis and gateway._successor is not None:
            gateway = gateway._successor
        return gateway.apis[key.spec.upstream]

    def resolve_model(self, requested: object) -> str:
        """The Gemini model id for a client's `model` (aliases applied, prefixes stripped)."""
        if not isinstance(requested, str) or not requested.strip():
            raise InvalidRequest(
                "`model` is required and must be a non-empty string.", param="model"
            )
        name = self.config.aliases.get(requested, requested)
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        name = self.config.aliases.get(name, name)
        if not MODEL_ID.fullmatch(name):
            raise InvalidRequest(
                f"`{requested[:100]}` is not a valid model id.",
                param="model",
                code="model_not_found",
            )
        return name
