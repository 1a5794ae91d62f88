"""The one shared httpx client, and how a Gemini call is put on the wire.

Upstream hygiene, by construction:
- the key travels in `x-goog-api-key`, never in the URL (URLs end up in logs);
- only the headers built here are sent: nothing from the client's request is forwarded,
  in particular not its `Authorization` (Gemini answers 401 to a non-OAuth bearer);
- httpx's own read timeout is off: the request's trio deadline and the attempt's
  first-byte scope govern time, so virtual-time tests and production behave alike.
"""

from __future__ import annotations

from typing import Any

import httpx

from trioproxy.codec import dumps
from trioproxy.config.model import GatewaySettings, UpstreamSpec
from trioproxy.errors import InvalidRequest
from trioproxy.secret import Secret

USER_AGENT = "trioproxy/0.1"


def make_http_client(
    settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(connect=settings.connect_timeout, read=None, write=60.0, pool=30.0),
        # Keep-alive connections are the whole point of sharing one client; the cap on
        # total connections bounds sockets under a burst of long streams.
        limits=httpx.Limits(
            max_connections=2000, max_keepalive_connections=200, keepalive_expiry=30.0
        ),
        follow_redirects=False,
        trust_env=False,
    )


_MAX_URLS = 1024


class GeminiAPI:
    """Builds the requests of one Gemini upstream (base URL + API version)."""

    def __init__(self, spec: UpstreamSpec) -> None:
        self.spec = spec
        self.root = f"{spec.base_url}/{spec.api_version}"
        # Parsed URLs of the generate calls, by (model, stream): `client.build_request`
        # re-parses and re-merges everything per call, about 0.1 ms in the profile.
        self._urls: dict[tuple[str, bool], httpx.URL] = {}

    def _headers(self, secret: Secret) -> dict[str, str]:
        return {
            "x-goog-api-key": secret.reveal(),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    def _generate_url(self, model: str, stream: bool) -> httpx.URL:
        url = self._urls.get((model, stream))
        if url is None:
            if len(self._urls) >= _MAX_URLS:  # model ids come from clients: bounded
                self._urls.clear()
            rpc = "streamGenerateContent?alt=sse" if stream else "generateContent"
            url = self._urls[(model, stream)] = httpx.URL(f"{self.root}/models/{model}:{rpc}")
        return url

    def generate(
        self,
        http: httpx.AsyncClient,
        model: str,
        payload: bytes,
        secret: Secret,
        *,
        stream: bool,
    ) -> httpx.Request:
        # The request `build_request` would make: the client's default headers under
        # ours, and its timeouts.
        headers = {**http.headers, **self._headers(secret)}
        return httpx.Request(
            "POST",
            self._generate_url(model, stream),
            content=payload,
            headers=headers,
            extensions={"timeout": http.timeout.as_dict()},
        )

    def batch_embed(
        self, http: httpx.AsyncClient, model: str, payload: bytes, secret: Secret
    ) -> httpx.Request:
        return http.build_request(
            "POST",
            f"{self.root}/models/{model}:batchEmbedContents",
            content=payload,
            headers=self._headers(secret),
        )

    def list_models(
        self, http: httpx.AsyncClient, secret: Secret, page_token: str | None
    ) -> httpx.Request:
        params = {"pageSize": "1000"}
        if page_token:
            params["pageToken"] = page_token
        return http.build_request(
            "GET", f"{self.root}/models", params=params, headers=self._headers(secret)
        )

    def get_model(self, http: httpx.AsyncClient, model: str, secret: Secret) -> httpx.Request:
        return http.build_request(
            "GET", f"{self.root}/models/{model}", headers=self._headers(secret)
        )


def encode_json(body: dict[str, Any]) -> bytes:
    """The upstream request body, encoded once per request (not once per attempt)."""
    try:
        return dumps(body, strict=True)
    except UnicodeEncodeError:
        # JSON allows "\ud800", UTF-8 cannot carry a lone surrogate.
        raise InvalidRequest("The request contains invalid Unicode (a lone surrogate).") from None
