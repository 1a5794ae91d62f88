"""The hypercorn entry point: `hypercorn --worker-class trio trioproxy.asgi:app`.

The config is loaded at import, so an invalid keys.yaml stops the process before it binds,
with one clear message and exit status 2.
"""

from __future__ import annotations

import sys

from trioproxy import logs
from trioproxy.app import TrioProxyApp, create_app
from trioproxy.config import ConfigError
from trioproxy.settings import Settings


def _build() -> TrioProxyApp:
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level)
        return create_app(settings)
    except (ConfigError, ValueError) as error:
        print(f"trioproxy: {error}", file=sys.stderr, flush=True)
        # hypercorn imports the app in its worker process. The worker exits 2, but
        # hypercorn 0.18's supervisor re-reads the exit codes from an already emptied list
        # and reports 0; `trioproxy serve` and `trioproxy check-config` do exit 2.
        raise SystemExit(2) from None


app = _build()
