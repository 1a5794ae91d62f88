"""Deciding what the process runs against: the configured Gemini, or the simulation.

The offline demo must work from a fresh clone with no credentials, yet a real deployment
with a typo in a variable name must fail loudly rather than quietly serve fake answers. So
`auto` simulates only when *every* upstream key is unresolved because its variable is unset
(the bundled example untouched, no GEMINI_API_KEY); any other problem, or a mix of set and
unset keys, is the usual config error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from trioproxy.config import Config, ConfigError
from trioproxy.config.loader import parse_config, read_config
from trioproxy.settings import Settings

_KEY_SECRET_PATH = re.compile(r"^upstreams\[\d+\]\.keys\[\d+\]\.key$")
SIMULATED_SECRET_PREFIX = "simulated-"


@dataclass(frozen=True, slots=True)
class Runtime:
    config: Config
    simulated: bool
    # The bytes the config was built from (a reload compares the file against them).
    raw: bytes = b""


def resolve(
    settings: Settings, env: Mapping[str, str] | None = None, *, raw: bytes | None = None
) -> Runtime:
    """The config to run, from `settings.config_path` (or its bytes `raw`, already read)."""
    env = dict(os.environ if env is None else env)
    source = str(settings.config_path)
    if raw is None:
        raw = read_config(settings.config_path)
    text = raw

    def load(env: Mapping[str, str]) -> Config:
        return parse_config(text, source, env)

    if settings.simulate == "off":
        return Runtime(load(env), simulated=False, raw=raw)
    try:
        config = load(env)
    except ConfigError as error:
        unset = _only_unset_key_variables(error)
        if unset is None:
            raise
        for name in set(unset):
            env[name] = SIMULATED_SECRET_PREFIX + name.lower()
        simulated = load(env)
        if len(unset) != len(simulated.keys):
            raise  # some keys are real: a missing variable is a mistake, not a demo
        return Runtime(simulated, simulated=True, raw=raw)
    return Runtime(config, simulated=settings.simulate == "on", raw=raw)


def _only_unset_key_variables(error: ConfigError) -> list[str] | None:
    names = []
    for problem in error.problems:
        if problem.unset_variable is None or not _KEY_SECRET_PATH.match(problem.path):
            return None
        names.append(problem.unset_variable)
    return names or None
