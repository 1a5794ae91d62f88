"""The hypercorn entry point: `hypercorn --worker-class trio trioproxy.asgi:app`.

The config is loaded and the state store opened at import, so an invalid keys.yaml or a
data directory in use by another gateway stops the process before it binds, with one
clear message and exit status 2.
"""

from __future__ import annotations

import sys

from trioproxy import logs
from trioproxy.app import TrioProxyApp, create_app, open_state
from trioproxy.config import ConfigError
from trioproxy.runtime import resolve
from trioproxy.settings import Settings
from trioproxy.state.store import StoreError


def _build() -> TrioProxyApp:
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level)
        runtime = resolve(settings)
        return create_app(settings, runtime=runtime, opened=open_state(settings))
    except (ConfigError, StoreError, ValueError) as error:
        print(f"trioproxy: {error}", file=sys.stderr, flush=True)
        # hypercorn imports the app in its worker process. The worker exits 2, but
        # hypercorn 0.18's supervisor re-reads the exit codes from an already emptied list
        # and reports 0; `trioproxy serve` and `trioproxy check-config` do exit 2.
        raise SystemExit(2) from None


app = _build()
