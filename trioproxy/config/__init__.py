"""keys.yaml: the schema (`model`), `${ENV}` expansion (`env`), and validation (`loader`,
walking the document with `reader`)."""

from trioproxy.config.loader import ConfigError, build_config, load_config
from trioproxy.config.model import (
    ClientSpec,
    Config,
    GatewaySettings,
    KeySpec,
    UpstreamSpec,
)
from trioproxy.config.reader import Problem

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
