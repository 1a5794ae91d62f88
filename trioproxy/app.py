"""create_app(): the quart-trio application, its lifespan, and the error boundary.

Lifespan (quart-trio's app nursery hosts the services):
  before_serving  shared httpx client -> simulated Gemini (offline demo only) -> Gateway
                  -> saved state restored into its pool (trioproxy.state)
                  -> projects and tokens opened (trioproxy.tenancy)
                  -> the supervisor's services, in order: state writer, usage writer,
                     event writer, config watcher, health prober (trioproxy.supervisor)
  after_serving   in-flight requests have ended (the drain: trioproxy.drain); stop the
                  services in reverse order (the state writer last, flushing), then
                  close the httpx client and the state store
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio
from quart import Response, g, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from trioproxy import access, logs, request_scope
from trioproxy.codec import dumps
from trioproxy.config_watcher import ConfigWatcher
from trioproxy.drain import Drain
from trioproxy.errors import ClientError, ProxyError
from trioproxy.events import EventLog
from trioproxy.gateway import Gateway
from trioproxy.observability import requests
from trioproxy.observability.collector import GatewayCollector, Sources
from trioproxy.observability.metrics import Metrics
from trioproxy.pool.overrides import Override
from trioproxy.prober import HealthProber
from trioproxy.reload import Reloader
from trioproxy.routes.admin import blueprint as admin_blueprint
from trioproxy.routes.health import blueprint as health_blueprint
from trioproxy.routes.manage import blueprint as manage_blueprint
from trioproxy.routes.observe import blueprint as observe_blueprint
from trioproxy.routes.openai import blueprint as openai_blueprint
from trioproxy.runtime import Runtime, resolve
from trioproxy.serving import serve_app
from trioproxy.settings import Settings
from trioproxy.state.capture import restore, saved_overrides
from trioproxy.state.snapshot import Snapshot
from trioproxy.state.store import StateStore
from trioproxy.state.writer import StateWriter
from trioproxy.supervisor import Service, Supervisor
from trioproxy.tenancy.manager import Manager
from trioproxy.tenancy.store import FILE_NAME, AccessStore
from trioproxy.upstream import make_http_client

# A store opened before serving, and the state it loaded.
OpenedState = tuple[StateStore, Snapshot]

_HTTP_ERROR_TYPES = {
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
}


class TrioProxyApp(QuartTrio):
    gateway: Gateway
    prober: HealthProber
    reloader: Reloader
    runtime: Runtime
    store: StateStore | None = None
    supervisor: Supervisor
    drain: Drain
    settings: Settings
    metrics: Metrics
    events: EventLog | None
    # Projects, tokens and their usage (trioproxy.tenancy); opened when serving starts.
    access: Manager
    # The admin's runtime weight/priority overrides, by key name (kept across reloads).
    overrides: dict[str, Override]

    def swap_gateway(self, gateway: Gateway) -> None:
        """Make a reloaded config current: one assignment (requests pin theirs)."""
        for name in set(self.overrides) - set(gateway.pool.by_name):
            # Its key left the config: the override goes with it (it would otherwise
            # come back on a key re-added later under the same name).
            del self.overrides[name]
        self.gateway = gateway
        self.config["MAX_CONTENT_LENGTH"] = gateway.config.gateway.max_body_bytes
        self.prober.follow(gateway)
        if self.store is None:
            # Nothing persists the marks: drop them, or they would keep every key state
            # ever replaced alive.
            gateway.pool.touched.clear()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Whatever the request left open is released when it ends (see request_scope).
        resources = request_scope.RequestScope()
        token = request_scope.current.set(resources)
        try:
            await super().__call__(scope, receive, send)
        finally:
            request_scope.current.reset(token)
            await resources.close()


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    wall: Callable[[], float] = time.time,
    opened: OpenedState | None = None,
    opened_access: Manager | None = None,
) -> TrioProxyApp:
    """Build the app. Loads and validates the config now, so a bad file fails at startup
    with a ConfigError rather than on the first request. `opened`: the state store,
    already opened by `open_state` (else it is opened when serving starts); likewise
    `opened_access`, by `open_access`."""
    settings = settings or Settings.from_env()
    runtime = runtime or resolve(settings)
    app = TrioProxyApp("trioproxy")
    app.runtime = runtime
    app.settings = settings
    app.drain = Drain()
    app.metrics = Metrics()
    app.overrides = {}
    app.events = EventLog(settings.event_log) if settings.event_log is not None else None
    gateway_settings = runtime.config.gateway
    app.config.update(
        RESPONSE_TIMEOUT=None,  # the request deadline governs, not Quart's 60 s default
        MAX_CONTENT_LENGTH=gateway_settings.max_body_bytes,
        BODY_TIMEOUT=120,
        PROVIDE_AUTOMATIC_OPTIONS=False,
    )
    app.register_blueprint(openai_blueprint)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(admin_blueprint)
    app.register_blueprint(observe_blueprint)
    app.register_blueprint(manage_blueprint)

    @app.before_serving
    async def start() -> None:
        http = make_http_client(gateway_settings, transport)
        base_url = None
        if runtime.simulated:
            base_url = await _start_simulation(app)
        saved = None
        if settings.data_dir is not None:
            state = opened
            if state is None:
                state = await trio.to_thread.run_sync(_open_store, settings.data_dir)
            app.store, saved = state
            # The admin's overrides shape the pool (tiers, weights): applied as it is built.
            fingerprints = {key.name: key.secret.fingerprint for key in runtime.config.keys}
            app.overrides.update(saved_overrides(saved, fingerprints))
        app.gateway = Gateway(
            runtime.config,
            http,
            base_url_override=base_url,
            wall=wall,
            drain=app.drain,
            overrides=app.overrides,
            metrics=app.metrics,
        )
        if app.store is not None and saved is not None:
            _restore(app.gateway, app.store, saved, wall)
        # Opened once the state store holds the data directory's lock.
        manager = opened_access
        if manager is None and settings.data_dir is None:
            manager = open_access(settings, wall)  # memory only: no I/O
        elif manager is None:
            manager = await trio.to_thread.run_sync(lambda: open_access(settings, wall))
        app.access = manager
        app.metrics.registry.register(GatewayCollector(_sources(app, wall)))
        app.prober = HealthProber(app.gateway)
        app.reloader = Reloader(
            settings,
            simulated=runtime.simulated,
            current=lambda: app.gateway,
            swap=app.swap_gateway,
        )
        app.reloader.remember(runtime.raw)
        services = []
        if app.store is not None:
            writer = StateWriter(app.store, lambda: app.gateway.pool, wall=wall)
            services.append(Service("state writer", writer.run))
        services.append(Service("usage writer", app.access.run))
        if app.events is not None:
            # Stopped after the watcher and the prober, when no request is left to emit.
            services.append(Service("event writer", app.events.run))
        if settings.watch_config:
            watcher = ConfigWatcher(app.reloader, settings.config_path)
            services.append(Service("config watcher", watcher.run))
        services.append(Service("health prober", app.prober.run))
        app.supervisor = Supervisor(services)
        await app.supervisor.start(app.nursery)
        logs.event(
            "gateway started",
            keys=len(runtime.config.keys),
            simulated=runtime.simulated,
            config=runtime.config.source,
        )
        if not runtime.config.clients:
            logs.event("no client keys configured: serving loopback clients only", logging.WARNING)

    @app.after_serving
    async def stop() -> None:
        # The services first: none may still use the http client once it is closed, and
        # the state writer, stopped last, has flushed everything they changed.
        await app.supervisor.stop()
        await app.gateway.http.aclose()
        if app.access.store.path is not None:
            await trio.to_thread.run_sync(app.access.store.close)
        if app.store is not None:
            await trio.to_thread.run_sync(app.store.close)

    @app.before_request
    async def admit() -> None:
        requests.admit(app.metrics)
        g.caller = None
        # The one read of the current config for this request (a reload swaps it).
        g.gateway = app.gateway
        # /v1/status is the operators' (admin token), not the clients'.
        if request.path.startswith("/v1/") and request.path != "/v1/status":
            tokens = app.access.registry
            g.caller = caller = access.authenticate(
                g.gateway.config.clients,
                request.headers.get("authorization"),
                request.remote_addr,
                tokens,
                app.access.wall(),
            )
            if caller.grant is not None and request.url_rule is not None:
                access.admit(tokens, caller.grant, trio.current_time())
            # Only an authenticated request to a served route is usage.
            requests.open_event(app.events, caller, app.access)

    @app.after_request
    async def finish(response: Response) -> Response:
        requests.observe(app.metrics, response)
        return response

    app.register_error_handler(ProxyError, _proxy_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def open_state(settings: Settings) -> OpenedState | None:
    """Open the state store before serving (blocking), so that a data directory in use by
    another gateway (StoreLocked) stops the process with one clear message before it
    binds. None when persistence is off."""
    if settings.data_dir is None:
        return None
    return _open_store(settings.data_dir)


def open_access(settings: Settings, wall: Callable[[], float] = time.time) -> Manager:
    """Open the projects and tokens (blocking; StoreError if the file cannot be used)."""
    path = settings.data_dir / FILE_NAME if settings.data_dir is not None else None
    return Manager.open(AccessStore(path), wall=wall)


def _open_store(data_dir: Path) -> OpenedState:
    store = StateStore(data_dir)
    return store, store.open()


def _restore(
    gateway: Gateway, store: StateStore, saved: Snapshot, wall: Callable[[], float]
) -> None:
    """Put the saved state back into the pool before the first request."""
    restored = restore(gateway.pool, saved, trio.current_time(), wall())
    status = store.status
    logs.event(
        "state restored" if restored.keys else "state store opened",
        logging.WARNING if status.degraded else logging.INFO,
        store=status.kind,
        location=status.location,
        degraded=status.degraded,
        reason=status.reason,
        keys=restored.keys,
    )


def _sources(app: TrioProxyApp, wall: Callable[[], float]) -> Sources:
    return Sources(
        pool=lambda: app.gateway.pool,
        reloads=lambda: app.reloader.status,
        store=lambda: app.store.status if app.store is not None else None,
        crashes=lambda: dict(app.supervisor.crashes),
        logs_dropped=logs.dropped,
        events=lambda: app.events,
        wall=wall,
    )


async def _start_simulation(app: TrioProxyApp) -> str:
    # Imported here, not at the top: a production process never loads the simulation.
    from trioproxy.fakes.gemini import SimulatedGemini

    simulated = SimulatedGemini(any_key=True)
    url: str = await app.nursery.start(serve_app, simulated)
    logs.event(
        "SIMULATION: no Gemini key is configured, so requests are answered by the bundled "
        "simulated Gemini, not by Google. Set GEMINI_API_KEY (or edit config/keys.yaml) to "
        "use the real API.",
        logging.WARNING,
        upstream=url,
    )
    return url


def _error_response(error: ProxyError) -> Response:
    return Response(
        dumps(error.envelope()),
        status=error.status,
        content_type="application/json",
        headers=error.headers,
    )


async def _proxy_error(error: ProxyError) -> Response:
    if not isinstance(error, ClientError):
        logs.event(
            "request failed",
            logging.WARNING,
            status=error.status,
            code=error.code,
            error=error.message,
            request_id=g.get("request_id"),
        )
    return _error_response(error)


async def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    messages = {
        404: f"Unknown route: {request.method} {request.path}",
        405: f"Method {request.method} is not allowed on {request.path}",
        413: "The request body is too large.",
    }
    message = messages.get(status) or error.description or "bad request"
    return _error_response(
        ProxyError(
            message,
            status=status,
            type=_HTTP_ERROR_TYPES.get(status, "invalid_request_error"),
            code=None,
        )
    )


async def _unexpected_error(error: Exception) -> Response:
    logs.EVENTS.exception("unexpected error", extra={"fields": {"request_id": g.get("request_id")}})
    return _error_response(
        ProxyError(
            f"The gateway hit an internal error (request id {g.get('request_id')}).", status=500
        )
    )
