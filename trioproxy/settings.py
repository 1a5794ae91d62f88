"""Process settings from the environment, read in one place, once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trioproxy.secret import Secret

SimulateMode = Literal["auto", "on", "off"]


@dataclass(frozen=True, slots=True)
class Settings:
    config_path: Path = Path("config/keys.yaml")
    # Where the pool's state is kept (SQLite, or a JSON fallback). None: memory only.
    data_dir: Path | None = Path("data")
    # auto: run against the bundled simulated Gemini when no upstream key is configured
    # (every key's ${ENV} is unset); on: always; off: never (unset variables are errors).
    simulate: SimulateMode = "auto"
    log_level: str = "INFO"
    # Reload keys.yaml when the file changes (SIGHUP and the admin API reload either way).
    watch_config: bool = True
    # The admin API's bearer token (TRIOPROXY_ADMIN_TOKEN); None: the admin API is off.
    admin_token: Secret | None = None
    # The management API's bearer token (TRIOPROXY_MANAGEMENT_TOKEN); None: it is off.
    management_token: Secret | None = None
    # Seconds in-flight requests get to finish on shutdown (`trioproxy serve`).
    graceful_timeout: float = 30.0
    # The usage event log (JSONL); None: off. Default: usage.jsonl in the data directory.
    event_log: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        simulate = env.get("TRIOPROXY_SIMULATE", "auto").strip().lower()
        if simulate not in ("auto", "on", "off"):
            raise ValueError(f"TRIOPROXY_SIMULATE must be auto, on or off, not {simulate!r}")
        return cls(
            config_path=Path(env.get("TRIOPROXY_CONFIG", "config/keys.yaml")),
            data_dir=_data_dir(env.get("TRIOPROXY_DATA_DIR", "data")),
            simulate=simulate,  # type: ignore[arg-type]
            log_level=env.get("TRIOPROXY_LOG_LEVEL", "INFO").upper(),
            watch_config=_flag(env, "TRIOPROXY_WATCH_CONFIG", default=True),
            admin_token=_secret(env, "TRIOPROXY_ADMIN_TOKEN"),
            management_token=_secret(env, "TRIOPROXY_MANAGEMENT_TOKEN"),
            graceful_timeout=_seconds(env, "TRIOPROXY_GRACEFUL_TIMEOUT", default=30.0),
            event_log=_event_log(env),
        )


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "").strip()
    return Secret(value) if value else None


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def _data_dir(value: str) -> Path | None:
    # `off`: nothing persisted (an ephemeral instance, or a read-only image by design).
    # Empty (an unset template variable) is the default, not "off".
    value = value.strip()
    if value.lower() in ("off", "none"):
        return None
    return Path(value or "data")


def _seconds(env: Mapping[str, str], name: str, *, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    return seconds


def _event_log(env: Mapping[str, str]) -> Path | None:
    value = env.get("TRIOPROXY_EVENT_LOG", "").strip()
    if value.lower() in ("off", "none"):
        return None
    if value:
        return Path(value)
    data_dir = _data_dir(env.get("TRIOPROXY_DATA_DIR", "data"))
    return data_dir / "usage.jsonl" if data_dir is not None else None
