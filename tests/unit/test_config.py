from __future__ import annotations

from pathlib import Path

import pytest

from trioproxy.config import ConfigError, load_config
from trioproxy.config.env import UnsetVariable, expand

SECRET = "AIzaSy-very-secret-value-123"

VALID = """
upstreams:
  - name: gemini
    type: gemini
    base_url: http://127.0.0.1:9999/
    keys:
      - name: team-a
        key: ${GEMINI_KEY_A}
      - name: team-b
        key: literal-key-b
clients:
  - name: ci
    key: sk-local-ci
aliases:
  gpt-4o: models/gemini-2.5-flash
gateway:
  max_attempts: 3
  request_timeout: 30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env or {})
    message = str(caught.value)
    assert SECRET not in message
    assert str(tmp_path / "keys.yaml") in message
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_valid_config_expands_env_and_builds_frozen_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"GEMINI_KEY_A": SECRET})
    upstream = config.upstreams[0]
    assert upstream.base_url == "http://127.0.0.1:9999"
    assert upstream.api_version == "v1beta"
    assert [k.name for k in config.keys] == ["team-a", "team-b"]
    assert config.keys[0].secret.reveal() == SECRET
    assert config.keys[0].upstream == "gemini"
    assert config.clients[0].secret.matches("sk-local-ci")
    assert config.aliases == {"gpt-4o": "gemini-2.5-flash"}
    assert config.gateway.max_attempts == 3
    assert config.gateway.request_timeout == 30
    assert SECRET not in repr(config)


def test_env_default_syntax() -> None:
    assert expand("${A:-fallback}", {}) == "fallback"
    assert expand("x-${A}-y", {"A": "1"}) == "x-1-y"
    with pytest.raises(UnsetVariable) as caught:
        expand("${MISSING}", {})
    assert caught.value.name == "MISSING"


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "upstreams: [\n  - name: x\n")
    assert "YAML error at line" in problem


def test_unknown_field_names_the_path(tmp_path: Path) -> None:
    text = VALID.replace(
        "        key: literal-key-b", "        key: literal-key-b\n        wieght: 2"
    )
    assert problems(tmp_path, text, {"GEMINI_KEY_A": "x"}) == [
        "upstreams[0].keys[1].wieght: unknown field "
        "(expected one of: key, limits, name, priority, project, weight)"
    ]


def test_unset_env_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    assert problems(tmp_path, VALID) == [
        "upstreams[0].keys[0].key: environment variable GEMINI_KEY_A is not set"
    ]


def test_missing_and_empty_secrets(tmp_path: Path) -> None:
    text = """
upstreams:
  - name: g
    type: gemini
    keys:
      - name: a
      - name: b
        key: "  "
"""
    assert problems(tmp_path, text) == [
        "upstreams[0].keys[0].key: is required",
        "upstreams[0].keys[1].key: must not be empty (the secret is empty)",
    ]


def test_duplicate_names_and_secrets(tmp_path: Path) -> None:
    text = f"""
upstreams:
  - name: g
    type: gemini
    keys:
      - name: a
        key: {SECRET}
      - name: a
        key: other
      - name: c
        key: {SECRET}
clients:
  - {{name: ci, key: one}}
  - {{name: ci, key: two}}
"""
    assert problems(tmp_path, text) == [
        "upstreams[0].keys[1].name: duplicate key name 'a' (also at upstreams[0].keys[0].name)",
        "upstreams[0].keys[2].name: the same key secret is already configured at "
        "upstreams[0].keys[0].name",
        "clients[1].name: duplicate client name 'ci' (also at clients[0].name)",
    ]


def test_wrong_types_and_values(tmp_path: Path) -> None:
    text = """
upstreams:
  - name: g
    type: openai
    base_url: ftp://x
    keys: {name: a}
gateway:
  max_attempts: 0
  request_timeout: soon
"""
    assert problems(tmp_path, text) == [
        "upstreams[0].type: unsupported upstream type 'openai' (supported: gemini)",
        "upstreams[0].base_url: must start with http:// or https://",
        "upstreams[0].keys: must be a list, got a mapping",
        "upstreams[0].keys: must list at least one key",
        "gateway.max_attempts: must be at least 1",
        "gateway.request_timeout: must be a number, got str",
    ]


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path, "") == ["upstreams: is required"]
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", {})
    assert "cannot read file" in str(caught.value)


def test_bundled_example_is_valid_with_a_key(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "config" / "keys.yaml"
    config = load_config(example, {"GEMINI_API_KEY": SECRET})
    assert [k.name for k in config.keys] == ["default"]
    assert config.clients == ()
