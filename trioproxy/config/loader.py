"""Reading keys.yaml: parse, expand `${ENV}`, validate every field, build a frozen `Config`.

Rules:
1. Every problem names the file, the field path (`upstreams[0].keys[1].key`) and what is
   wrong; all problems are collected, not just the first.
2. No message ever contains the value of a secret field, expanded or not.
3. Unknown fields are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from trioproxy.config.model import (
    DEFAULT_GEMINI_BASE_URL,
    POLICIES,
    ClientSpec,
    Config,
    GatewaySettings,
    KeySpec,
    LimitSpec,
    UpstreamSpec,
)
from trioproxy.config.reader import Problem, Reader, field_name, kind
from trioproxy.secret import Secret

UPSTREAM_TYPES = ("gemini",)
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
API_VERSIONS = ("v1beta", "v1")


class ConfigError(Exception):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = [
            f"{source}: {p.path}: {p.message}" if p.path else f"{source}: {p.message}"
            for p in problems
        ]
        super().__init__("invalid config\n  " + "\n  ".join(lines))


# libyaml's safe loader when PyYAML was built with it (about ten times faster on a large
# pool); the same safe subset of YAML either way.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Load and validate keys.yaml; raise `ConfigError` listing every problem."""
    return parse_config(read_config(path), str(path), env)


def read_config(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(str(path), [Problem("", f"cannot read file: {error.strerror}")]) from None


def parse_config(raw: bytes, source: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate the bytes of a keys.yaml read earlier (a reload reads the file once, so the
    text it validates is the text whose digest it remembers)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(source, [Problem("", f"not UTF-8 text (byte {error.start})")]) from None
    try:
        document = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(source, [Problem("", f"YAML error at {where}{reason}")]) from None
    return build_config(document, source, os.environ if env is None else env)


def build_config(document: Any, source: str, env: Mapping[str, str]) -> Config:
    reader = Reader(env)
    root = reader.mapping(
        {} if document is None else document,
        "",
        {"upstreams", "clients", "aliases", "gateway"},
        {"upstreams"},
    )
    upstreams = [
        _upstream(reader, node, f"upstreams[{i}]")
        for i, node in enumerate(reader.sequence(root.get("upstreams"), "upstreams"))
    ]
    if "upstreams" in root and not upstreams and not reader.problems:
        reader.problem("upstreams", "must list at least one upstream")
    clients = [
        _client(reader, node, f"clients[{i}]")
        for i, node in enumerate(reader.sequence(root.get("clients"), "clients"))
    ]
    aliases = _aliases(reader, root.get("aliases"))
    gateway = _gateway(reader, root.get("gateway"))

    built_upstreams = [u for u in upstreams if u is not None]
    reader.unique(
        [(f"upstreams[{i}].name", u.name) for i, u in enumerate(built_upstreams)], "upstream"
    )
    key_names = [
        (f"upstreams[{i}].keys[{j}].name", k.name)
        for i, u in enumerate(built_upstreams)
        for j, k in enumerate(u.keys)
    ]
    reader.unique(key_names, "key")
    key_secrets = [
        (path, k.secret.fingerprint)
        for (path, _), k in zip(
            key_names, [k for u in built_upstreams for k in u.keys], strict=True
        )
    ]
    _unique_secrets(reader, key_secrets, "key")
    _project_limits_agree(reader, key_names, [k for u in built_upstreams for k in u.keys])
    built_clients = [c for c in clients if c is not None]
    reader.unique([(f"clients[{i}].name", c.name) for i, c in enumerate(built_clients)], "client")

    if reader.problems:
        raise ConfigError(source, reader.problems)
    return Config(
        source=source,
        upstreams=tuple(built_upstreams),
        clients=tuple(built_clients),
        aliases=aliases,
        gateway=gateway,
    )


def _upstream(reader: Reader, node: Any, path: str) -> UpstreamSpec | None:
    before = len(reader.problems)
    data = reader.mapping(
        node,
        path,
        {"name", "type", "base_url", "api_version", "keys", "policy"},
        {"name", "type", "keys"},
    )
    name = reader.string(data.get("name"), f"{path}.name") if "name" in data else None
    kind = reader.string(data.get("type"), f"{path}.type") if "type" in data else None
    if kind is not None and kind not in UPSTREAM_TYPES:
        reader.problem(f"{path}.type", f"unsupported upstream type {kind!r} (supported: gemini)")
    base_url = DEFAULT_GEMINI_BASE_URL
    if "base_url" in data:
        base_url = reader.string(data["base_url"], f"{path}.base_url") or base_url
        if not base_url.startswith(("http://", "https://")):
            reader.problem(f"{path}.base_url", "must start with http:// or https://")
    api_version = "v1beta"
    if "api_version" in data:
        api_version = reader.string(data["api_version"], f"{path}.api_version") or api_version
        if api_version not in API_VERSIONS:
            reader.problem(f"{path}.api_version", "must be v1beta or v1")
    policy = "round_robin"
    if "policy" in data:
        policy = reader.string(data["policy"], f"{path}.policy") or policy
        if policy not in POLICIES:
            reader.problem(f"{path}.policy", f"must be one of: {', '.join(POLICIES)}")
    keys = [
        _key(reader, key_node, f"{path}.keys[{j}]", name or "")
        for j, key_node in enumerate(reader.sequence(data.get("keys"), f"{path}.keys"))
    ]
    if "keys" in data and not keys:
        reader.problem(f"{path}.keys", "must list at least one key")
    if len(reader.problems) > before or name is None or kind is None:
        return None
    return UpstreamSpec(
        name=name,
        type=kind,
        base_url=base_url.rstrip("/"),
        api_version=api_version,
        keys=tuple(k for k in keys if k is not None),
        policy=policy,
    )


_KEY_FIELDS = {"name", "key", "project", "weight", "priority", "limits"}
_LIMIT_FIELDS = ("rpm", "rpd", "tpm")


def _key(reader: Reader, node: Any, path: str, upstream: str) -> KeySpec | None:
    before = len(reader.problems)
    data = reader.mapping(node, path, _KEY_FIELDS, {"name", "key"})
    name = reader.string(data.get("name"), f"{path}.name") if "name" in data else None
    secret = reader.string(data.get("key"), f"{path}.key", secret=True) if "key" in data else None
    project = reader.string(data["project"], f"{path}.project") if "project" in data else None
    weight = 1.0
    if "weight" in data:
        weight = reader.number(data["weight"], f"{path}.weight", minimum=0.001) or weight
    priority = 0
    if "priority" in data:
        value = reader.number(data["priority"], f"{path}.priority", minimum=0, integer=True)
        priority = int(value or 0)
    limits = _limits(reader, data.get("limits"), f"{path}.limits")
    if name is None or secret is None or len(reader.problems) > before:
        return None
    return KeySpec(
        name=name,
        secret=Secret(secret),
        upstream=upstream,
        project=project,
        weight=float(weight),
        priority=priority,
        limits=limits,
    )


def _limits(reader: Reader, node: Any, path: str) -> tuple[LimitSpec, ...]:
    """`limits: {<model glob>: {rpm, rpd, tpm}}`; the first glob matching a model applies."""
    if node is None:
        return ()
    if not isinstance(node, dict):
        reader.problem(path, f"must be a mapping of model glob: limits, got {kind(node)}")
        return ()
    limits = []
    for glob, values in node.items():
        where = f"{path}.{field_name(glob)}"
        data = reader.mapping(values, where, set(_LIMIT_FIELDS), set())
        if not data and isinstance(values, dict):
            reader.problem(where, "must set at least one of rpm, rpd, tpm")
        numbers: dict[str, int] = {}
        for limit in _LIMIT_FIELDS:
            if limit in data:
                value = reader.number(data[limit], f"{where}.{limit}", minimum=1, integer=True)
                if value is not None:
                    numbers[limit] = int(value)
        limits.append(LimitSpec(models=str(glob), **numbers))
    return tuple(limits)


def _client(reader: Reader, node: Any, path: str) -> ClientSpec | None:
    data = reader.mapping(node, path, {"name", "key"}, {"name", "key"})
    name = reader.string(data.get("name"), f"{path}.name") if "name" in data else None
    secret = reader.string(data.get("key"), f"{path}.key", secret=True) if "key" in data else None
    if name is None or secret is None:
        return None
    return ClientSpec(name=name, secret=Secret(secret))


def _aliases(reader: Reader, node: Any) -> dict[str, str]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        reader.problem("aliases", f"must be a mapping of alias: model, got {kind(node)}")
        return {}
    aliases: dict[str, str] = {}
    for alias, target in node.items():
        value = reader.string(target, f"aliases.{alias}")
        if value is None:
            continue
        value = value.removeprefix("models/")
        if not MODEL_ID.fullmatch(value):
            reader.problem(f"aliases.{alias}", "is not a valid Gemini model id")
        else:
            aliases[str(alias)] = value
    return aliases


_INTEGER_SETTINGS = ("max_attempts", "max_body_bytes", "breaker_threshold")


def _gateway(reader: Reader, node: Any) -> GatewaySettings:
    if node is None:
        return GatewaySettings()
    names = {f.name for f in fields(GatewaySettings)}
    data = reader.mapping(node, "gateway", names, set())
    values: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in names:
            continue
        integer = name in _INTEGER_SETTINGS
        minimum = 0 if name == "max_wait" else 1 if integer else 0.001
        value = reader.number(raw, f"gateway.{name}", minimum=minimum, integer=integer)
        if value is not None:
            values[name] = value
    return GatewaySettings(**values)


def _unique_secrets(reader: Reader, entries: list[tuple[str, str]], what: str) -> None:
    seen: dict[str, str] = {}
    for path, fingerprint in entries:
        if fingerprint in seen:
            reader.problem(
                path, f"the same {what} secret is already configured at {seen[fingerprint]}"
            )
        else:
            seen[fingerprint] = path


def _project_limits_agree(
    reader: Reader, names: list[tuple[str, str]], keys: list[KeySpec]
) -> None:
    # The keys of a project spend one quota, so they share one budget: it must be the same
    # on every key, or which one applies would depend on the order of the file.
    first: dict[str, tuple[str, KeySpec]] = {}
    for (path, _), key in zip(names, keys, strict=True):
        if key.project is None:
            continue
        seen = first.setdefault(key.project, (path, key))
        if seen[1].limits != key.limits:
            where = path.removesuffix(".name")
            reader.problem(
                f"{where}.limits",
                f"keys of project {key.project!r} share one quota and must declare the same "
                f"limits (differs from {seen[0].removesuffix('.name')})",
            )
