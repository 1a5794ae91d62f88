"""keys.yaml: the schema (`model`), `${ENV}` expansion (`env`) and validation (`loader`)."""

from trioproxy.config.loader import ConfigError, Problem, build_config, load_config
from trioproxy.config.model import (
    ClientSpec,
    Config,
    GatewaySettings,
    KeySpec,
    UpstreamSpec,
)

__all__ = [
    "ClientSpec",
    "Config",
    "ConfigError",
    "GatewaySettings",
    "KeySpec",
    "Problem",
    "UpstreamSpec",
    "build_config",
    "load_config",
]
