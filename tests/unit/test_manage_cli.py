"""`trioproxy manage`: argv parsed exactly as a user types it, then run against an in-process
fake of the /manage API (httpx.MockTransport) that records every request it answers.

Every invocation also checks that the management token shows up nowhere: not on stdout, not
on stderr, not in the parsed namespace's repr."""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from trioproxy.tenancy import manage_cli as cli

TOKEN = "mgmt-Zq81-very-secret-management-token"
URL = "http://gateway.test:4806"
SECRET = "tp-1f2e3d4c5b6a7988-the-new-client-token"
USAGE: dict[str, Any] = {
    "requests": 10,
    "prompt_tokens": 100,
    "completion_tokens": 50,
    "reasoning_tokens": 0,
    "last_used_at": "2026-11-29T21:30:00Z",
}
NO_LIMITS = {"requests_per_minute": None, "requests_per_hour": None, "tokens_per_day": None}
BILLING: dict[str, Any] = {
    "name": "billing",
    "description": "",
    "metadata": {"team": "payments"},
    "models": ["gemini-2.5-*"],
    "upstreams": None,
    "limits": {**NO_LIMITS, "requests_per_minute": 60},
    "created_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-02T10:00:00Z",
    "tokens": 2,
    "usage": USAGE,
}
CI_TOKEN: dict[str, Any] = {
    "id": "tok_3f9a0c1e2b7d4a65",
    "project": "billing",
    "name": "ci",
    "created_at": "2026-11-01T10:00:00Z",
    "expires_at": "2026-12-01T10:00:00Z",
    "revoked_at": None,
    "active": True,
    "state": "active",
    "limits": NO_LIMITS,
    "usage": {**USAGE, "requests": 7, "prompt_tokens": 30, "completion_tokens": 12},
}


def _error(status: int, message: str, param: str | None = None) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param}}
    return httpx.Response(status, json=body)


class FakeGateway:
    """The /manage contract, in memory: enough of it to answer every verb like the server."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.projects: dict[str, dict[str, Any]] = {"billing": copy.deepcopy(BILLING)}
        self.tokens: dict[str, dict[str, Any]] = {CI_TOKEN["id"]: copy.deepcopy(CI_TOKEN)}

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self) -> Any:
        return json.loads(self.last.content)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(401, "invalid management token")
        raw = request.url.raw_path.decode().split("?")[0]
        parts = [unquote(part) for part in raw.strip("/").split("/")]
        parts = parts[parts.index("manage") :] if "manage" in parts else parts  # --url /prefix
        body: Any = json.loads(request.content) if request.content else None
        match request.method, parts:
            case "GET", ["manage", "projects"]:
                return httpx.Response(200, json={"projects": list(self.projects.values())})
            case "POST", ["manage", "projects"]:
                if body["name"] in self.projects:
                    return _error(409, f"project {body['name']!r} already exists", "name")
                view = {**copy.deepcopy(BILLING), "metadata": {}, "models": None, "tokens": 0}
                view.update(body)
                view["limits"] = {**NO_LIMITS, **body.get("limits", {})}
                self.projects[body["name"]] = view
                return httpx.Response(201, json=view)
            case method, ["manage", "projects", name]:
                if name not in self.projects:
                    return _error(404, f"project {name!r} not found")
                view = self.projects[name]
                if method == "PATCH":
                    limits = {**view["limits"], **body.pop("limits", {})}
                    view.update(body, limits=limits)
                if method == "DELETE":
                    del self.projects[name]
                    return httpx.Response(200, json={"deleted": name, "tokens_deleted": 2})
                return httpx.Response(200, json=view)
            case "POST", ["manage", "tokens"]:
                if body["project"] not in self.projects:
                    return _error(404, f"project {body['project']!r} not found", "project")
                view = {**copy.deepcopy(CI_TOKEN), "id": "tok_new", "name": body.get("name")}
                return httpx.Response(201, json={**view, "token": SECRET})
            case "GET", ["manage", "tokens"]:
                project = request.url.params.get("project")
                views = [v for v in self.tokens.values() if project in (None, v["project"])]
                return httpx.Response(200, json={"tokens": views})
            case method, ["manage", "tokens", token_id, *action]:
                if token_id not in self.tokens:
                    return _error(404, f"token {token_id!r} not found")
                if method == "DELETE":
                    del self.tokens[token_id]
                    return httpx.Response(200, json={"deleted": token_id})
                if action == ["revoke"]:
                    self.tokens[token_id].update(
                        state="revoked", active=False, revoked_at="2026-11-29T22:00:00Z"
                    )
                return httpx.Response(200, json=self.tokens[token_id])
        return _error(404, "no such route")


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIOPROXY_URL", URL)
    monkeypatch.setenv("TRIOPROXY_MANAGEMENT_TOKEN", TOKEN)


@pytest.fixture(autouse=True)
def _token_never_printed(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    out, err = capsys.readouterr()  # whatever a test left unread
    assert TOKEN not in out + err


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser(prog="trioproxy manage")
    cli.add_arguments(built)
    return built


def invoke(
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    handler: Any,
) -> tuple[int, str, str]:
    args = parser().parse_args(argv)
    code = cli.run(args, transport=httpx.MockTransport(handler))
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert TOKEN not in repr(args)
    assert TOKEN not in str(vars(args))
    return code, out, err


def test_project_create_sends_every_option_with_the_bearer_token(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    argv = ["project", "create", "search", "--description", "Search team"]
    argv += ["--model", "gemini-2.5-*", "--model", "text-embedding-*", "--upstream", "gemini"]
    argv += ["--metadata", "team=search", "--metadata", "cost=cc-42=b", "--rpm", "60"]
    argv += ["--rph", "1000", "--tpd", "500000"]
    code, out, err = invoke(capsys, argv, gateway)
    assert (code, err) == (0, "")
    request = gateway.last
    assert (request.method, request.url.path) == ("POST", "/manage/projects")
    assert str(request.url).startswith(URL)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert gateway.body() == {
        "name": "search",
        "description": "Search team",
        "metadata": {"team": "search", "cost": "cc-42=b"},
        "models": ["gemini-2.5-*", "text-embedding-*"],
        "upstreams": ["gemini"],
        "limits": {"requests_per_minute": 60, "requests_per_hour": 1000, "tokens_per_day": 500000},
    }
    lines = out.splitlines()
    assert any(line.split() == ["name:", "search"] for line in lines)
    assert any(line.split() == ["limits.requests_per_hour:", "1000"] for line in lines)
    assert any(line.split() == ["metadata:", "team=search,", "cost=cc-42=b"] for line in lines)


def test_project_create_sends_only_the_name_when_nothing_else_is_given(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    code, out, _ = invoke(capsys, ["project", "create", "bare"], gateway)
    assert code == 0
    assert gateway.body() == {"name": "bare"}
    assert any(line.split() == ["models:", "any"] for line in out.splitlines())


@pytest.mark.parametrize(
    "argv",
    [
        ["project", "create", "x", "--rpm", "0"],
        ["project", "create", "x", "--rpm", "none"],  # clearing is for update
        ["project", "create", "x", "--tpd", "-5"],
        ["project", "create", "x", "--metadata", "novalue"],
        ["project", "create", "x", "--any-model"],
        ["project", "update", "x", "--any-model", "--model", "m"],
        ["project", "get", ""],
        ["token", "generate", "--name", "ci"],  # --project is required
        ["token", "frobnicate"],
    ],
)
def test_bad_command_lines_stop_in_argparse(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2


def test_project_list_prints_a_table_with_usage(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    gateway.projects["zeta"] = {**copy.deepcopy(BILLING), "name": "zeta", "models": None}
    gateway.projects["zeta"]["usage"] = {**USAGE, "requests": 3, "last_used_at": None}
    code, out, _ = invoke(capsys, ["project", "list"], gateway)
    assert code == 0
    assert (gateway.last.method, gateway.last.url.path) == ("GET", "/manage/projects")
    header, *rows = out.splitlines()
    assert header.split() == [
        "NAME", "MODELS", "UPSTREAMS", "RPM", "RPH", "TPD", "ACTIVE", "TOKENS",
        "REQUESTS", "TOKENS", "USED", "LAST", "USED",
    ]  # fmt: skip
    # requests, then prompt + completion tokens (100 + 50)
    assert rows[0].split() == [
        "billing", "gemini-2.5-*", "any", "60", "-", "-", "2", "10", "150", "2026-11-29T21:30:00Z"
    ]  # fmt: skip
    assert rows[1].split() == ["zeta", "any", "any", "60", "-", "-", "2", "3", "150", "-"]
    # Fixed-width: every column starts at the same offset on every line.
    assert rows[0].index("gemini") == rows[1].index("any") == header.index("MODELS")
    assert rows[0].index("150") == rows[1].index("150") == header.index("TOKENS USED")


def test_empty_lists_say_so(capsys: pytest.CaptureFixture[str], gateway: FakeGateway) -> None:
    gateway.projects.clear()
    gateway.tokens.clear()
    assert invoke(capsys, ["project", "list"], gateway)[:2] == (0, "no projects\n")
    assert invoke(capsys, ["token", "list"], gateway)[:2] == (0, "no tokens\n")


def test_project_get_prints_a_field_block(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    code, out, _ = invoke(capsys, ["project", "get", "billing"], gateway)
    assert code == 0
    assert (gateway.last.method, gateway.last.url.path) == ("GET", "/manage/projects/billing")
    fields = dict(line.split(":", 1) for line in out.splitlines())
    fields = {name: value.strip() for name, value in fields.items()}
    assert fields["name"] == "billing"
    assert fields["models"] == "gemini-2.5-*"
    assert fields["upstreams"] == "any"
    assert fields["limits.requests_per_minute"] == "60"
    assert fields["limits.tokens_per_day"] == "-"
    assert fields["usage.prompt_tokens"] == "100"
    assert fields["created_at"] == "2026-11-01T10:00:00Z"  # times as given
    # One column for the values: the block is aligned.
    valued = [line for line in out.splitlines() if len(line.split()) > 1]
    assert len(valued) > 10
    assert len({line.index(line.split()[1]) for line in valued}) == 1


def test_project_update_sends_only_the_options_given(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    argv = ["project", "update", "billing", "--tpd", "1000", "--description", "Payments"]
    code, out, _ = invoke(capsys, argv, gateway)
    assert code == 0
    assert (gateway.last.method, gateway.last.url.path) == ("PATCH", "/manage/projects/billing")
    assert gateway.body() == {"description": "Payments", "limits": {"tokens_per_day": 1000}}
    assert "Payments" in out


def test_project_update_none_and_any_send_nulls(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    argv = ["project", "update", "billing", "--rpm", "none", "--rph", "NONE"]
    argv += ["--any-model", "--any-upstream"]
    code, _, _ = invoke(capsys, argv, gateway)
    assert code == 0
    assert gateway.body() == {
        "models": None,
        "upstreams": None,
        "limits": {"requests_per_minute": None, "requests_per_hour": None},
    }
    assert gateway.projects["billing"]["limits"] == NO_LIMITS


def test_project_update_lists_and_metadata_replace(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    argv = ["project", "update", "billing", "--model", "a*", "--model", "b", "--upstream", "g"]
    argv += ["--metadata", "team=core", "--metadata", "team=infra", "--metadata", "empty="]
    assert invoke(capsys, argv, gateway)[0] == 0
    assert gateway.body() == {
        "models": ["a*", "b"],
        "upstreams": ["g"],
        "metadata": {"team": "infra", "empty": ""},  # the last of a repeated key wins
    }


def test_project_update_without_options_sends_nothing(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    code, out, err = invoke(capsys, ["project", "update", "billing"], gateway)
    assert (code, out) == (2, "")
    assert "nothing to update" in err
    assert gateway.requests == []


def test_project_delete(capsys: pytest.CaptureFixture[str], gateway: FakeGateway) -> None:
    code, out, _ = invoke(capsys, ["project", "delete", "billing"], gateway)
    assert code == 0
    assert (gateway.last.method, gateway.last.url.path) == ("DELETE", "/manage/projects/billing")
    assert gateway.last.content == b""
    assert out == "deleted project billing and its 2 token(s)\n"
    assert "billing" not in gateway.projects


@pytest.mark.parametrize(
    ("argv", "raw_path"),
    [
        (["project", "get", "a/b c?#%"], b"/manage/projects/a%2Fb%20c%3F%23%25"),
        (["project", "delete", ".."], b"/manage/projects/%2E%2E"),
        (["project", "update", "x/y", "--rpm", "1"], b"/manage/projects/x%2Fy"),
        (["token", "get", "tok/../x"], b"/manage/tokens/tok%2F..%2Fx"),
        (["token", "revoke", "."], b"/manage/tokens/%2E/revoke"),
        (["token", "delete", "t k"], b"/manage/tokens/t%20k"),
    ],
)
def test_path_segments_are_quoted(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway, argv: list[str], raw_path: bytes
) -> None:
    code, _, err = invoke(capsys, argv, gateway)
    assert gateway.last.url.raw_path == raw_path
    assert code == 1  # the fake knows no such item: the request reached the item route
    assert "not found (HTTP 404)" in err


def test_token_generate_prints_the_secret_once(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    argv = ["token", "generate", "--project", "billing", "--name", "ci", "--expires-in", "7d"]
    code, out, err = invoke(capsys, [*argv, "--rpm", "5", "--tpd", "100"], gateway)
    assert (code, err) == (0, "")
    assert (gateway.last.method, gateway.last.url.path) == ("POST", "/manage/tokens")
    assert gateway.body() == {
        "project": "billing",
        "name": "ci",
        "expires_in": "7d",
        "limits": {"requests_per_minute": 5, "tokens_per_day": 100},
    }
    assert out.count(SECRET) == 1
    assert cli.SECRET_WARNING in out
    assert "will not be shown again" in cli.SECRET_WARNING
    # On a line of its own, after the details, so it can be copied whole.
    assert f"    {SECRET}" in out.splitlines()
    assert out.index("tok_new") < out.index(SECRET)


def test_token_generate_minimal_and_bare_seconds(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    assert invoke(capsys, ["token", "generate", "--project", "billing"], gateway)[0] == 0
    assert gateway.body() == {"project": "billing"}  # the server's default lifetime
    argv = ["token", "generate", "--project", "billing", "--expires-in", "3600"]
    assert invoke(capsys, argv, gateway)[0] == 0
    assert gateway.body() == {"project": "billing", "expires_in": 3600}


def test_token_list_filters_by_project_and_prints_a_table(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    code, out, _ = invoke(capsys, ["token", "list", "--project", "billing"], gateway)
    assert code == 0
    assert gateway.last.url.path == "/manage/tokens"
    assert dict(gateway.last.url.params) == {"project": "billing"}
    header, row = out.splitlines()
    assert header.split()[:5] == ["ID", "PROJECT", "NAME", "STATE", "EXPIRES"]
    assert row.split() == [
        "tok_3f9a0c1e2b7d4a65", "billing", "ci", "active", "2026-12-01T10:00:00Z",
        "-", "-", "-", "7", "42", "2026-11-29T21:30:00Z",
    ]  # fmt: skip

    assert invoke(capsys, ["token", "list"], gateway)[0] == 0
    assert gateway.last.url.query == b""


def test_token_get_revoke_delete(capsys: pytest.CaptureFixture[str], gateway: FakeGateway) -> None:
    token_id = CI_TOKEN["id"]
    code, out, _ = invoke(capsys, ["token", "get", token_id], gateway)
    assert code == 0
    assert (gateway.last.method, gateway.last.url.path) == ("GET", f"/manage/tokens/{token_id}")
    assert any(line.split() == ["state:", "active"] for line in out.splitlines())
    assert any(line.split() == ["active:", "yes"] for line in out.splitlines())

    code, out, _ = invoke(capsys, ["token", "revoke", token_id], gateway)
    assert code == 0
    request = gateway.last
    assert (request.method, request.url.path) == ("POST", f"/manage/tokens/{token_id}/revoke")
    assert any(line.split() == ["state:", "revoked"] for line in out.splitlines())

    code, out, _ = invoke(capsys, ["token", "delete", token_id], gateway)
    assert code == 0
    assert (gateway.last.method, gateway.last.url.path) == ("DELETE", f"/manage/tokens/{token_id}")
    assert out == f"deleted token {token_id}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["project", "list"],
        ["project", "get", "billing"],
        ["project", "delete", "billing"],
        ["token", "generate", "--project", "billing"],
        ["token", "list"],
        ["token", "revoke", CI_TOKEN["id"]],
    ],
)
def test_json_prints_the_server_answer_exactly(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway, argv: list[str]
) -> None:
    answers: list[httpx.Response] = []

    def recording(request: httpx.Request) -> httpx.Response:
        answers.append(gateway(request))
        return answers[-1]

    code, out, _ = invoke(capsys, [*argv, "--json"], recording)
    assert code == 0
    assert json.loads(out) == json.loads(answers[-1].content)
    assert out.startswith("{\n  ")  # pretty


def test_json_keeps_the_secret_for_scripts(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    code, out, _ = invoke(capsys, ["--json", "token", "generate", "--project", "billing"], gateway)
    assert code == 0
    assert json.loads(out)["token"] == SECRET
    assert cli.SECRET_WARNING not in out  # stdout stays pure JSON


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--url", "http://other.test:9", "project", "list", "--timeout", "3"],
        ["project", "--json", "--url", "http://other.test:9", "list", "--timeout", "3"],
        ["project", "list", "--json", "--url", "http://other.test:9", "--timeout", "3"],
        ["--timeout", "3", "project", "list", "--url", "http://other.test:9", "--json"],
    ],
)
def test_common_options_work_before_the_noun_and_after_the_verb(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway, argv: list[str]
) -> None:
    timeouts: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return gateway(request)

    code, out, _ = invoke(capsys, argv, handler)
    assert code == 0
    assert str(gateway.last.url) == "http://other.test:9/manage/projects"
    assert timeouts[0]["read"] == 3.0
    assert json.loads(out)["projects"][0]["name"] == "billing"


def test_an_option_given_after_the_verb_wins(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    argv = ["--url", "http://first.test", "project", "list", "--url", "http://last.test"]
    assert invoke(capsys, argv, gateway)[0] == 0
    assert gateway.last.url.host == "last.test"


def test_options_work_under_the_trioproxy_command_too(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    # As trioproxy/cli.py wires it: `trioproxy manage ...` is a subparser of the root.
    root = argparse.ArgumentParser(prog="trioproxy")
    commands = root.add_subparsers(dest="command", required=True)
    cli.add_arguments(commands.add_parser("manage"))
    args = root.parse_args(["manage", "--json", "token", "get", CI_TOKEN["id"], "--timeout", "2"])
    assert cli.run(args, transport=httpx.MockTransport(gateway)) == 0
    assert json.loads(capsys.readouterr().out)["id"] == CI_TOKEN["id"]


def test_defaults_come_from_the_environment(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIOPROXY_URL", "http://env.test:1234/prefix")
    timeouts: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return gateway(request)

    assert invoke(capsys, ["project", "list"], handler)[0] == 0
    assert str(gateway.last.url) == "http://env.test:1234/prefix/manage/projects"
    assert gateway.last.headers["authorization"] == f"Bearer {TOKEN}"
    assert timeouts[0]["read"] == 10.0

    monkeypatch.delenv("TRIOPROXY_URL")
    assert invoke(capsys, ["project", "list"], gateway)[0] == 0
    assert str(gateway.last.url) == "http://127.0.0.1:4806/manage/projects"


def test_the_token_option_beats_the_environment(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIOPROXY_MANAGEMENT_TOKEN", "stale-env-token")
    argv = ["project", "list", "--management-token", TOKEN]
    assert invoke(capsys, argv, gateway)[0] == 0
    assert gateway.last.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("env", [None, ""])
def test_a_missing_management_token_exits_2_before_any_request(
    capsys: pytest.CaptureFixture[str],
    gateway: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    env: str | None,
) -> None:
    if env is None:
        monkeypatch.delenv("TRIOPROXY_MANAGEMENT_TOKEN")
    else:
        monkeypatch.setenv("TRIOPROXY_MANAGEMENT_TOKEN", env)
    code, out, err = invoke(capsys, ["project", "list"], gateway)
    assert (code, out) == (2, "")
    assert "no management token" in err
    assert "TRIOPROXY_MANAGEMENT_TOKEN" in err
    assert gateway.requests == []


def test_a_wrong_management_token_is_an_http_error_that_does_not_echo_it(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    wrong = "wrong-token-4242"
    code, out, err = invoke(capsys, ["project", "list", "--management-token", wrong], gateway)
    assert (code, out) == (1, "")
    assert err == "trioproxy: invalid management token (HTTP 401)\n"
    assert wrong not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["project", "get", "nope"], "trioproxy: project 'nope' not found (HTTP 404)\n"),
        (
            ["project", "create", "billing"],
            "trioproxy: project 'billing' already exists (HTTP 409)\n",
        ),
        (["token", "generate", "--project", "x"], "trioproxy: project 'x' not found (HTTP 404)\n"),
    ],
)
def test_http_errors_print_the_server_message_and_exit_1(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway, argv: list[str], expected: str
) -> None:
    code, out, err = invoke(capsys, argv, gateway)
    assert (code, out, err) == (1, "", expected)


def test_an_http_error_is_not_printed_as_json_even_with_json(
    capsys: pytest.CaptureFixture[str], gateway: FakeGateway
) -> None:
    code, out, err = invoke(capsys, ["--json", "project", "get", "nope"], gateway)
    assert (code, out) == (1, "")
    assert "(HTTP 404)" in err


def test_an_error_echoing_the_management_token_is_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return _error(400, f"bad header {request.headers['authorization']!r}")

    code, _, err = invoke(capsys, ["project", "list"], echo)
    assert code == 1
    assert "bad header" in err
    assert "(HTTP 400)" in err


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, text="<html>hi</html>", headers={"content-type": "text/html"}), 1),
        (httpx.Response(200, json=["not", "an", "object"]), 1),
        (httpx.Response(502, text="Bad Gateway from nginx"), 1),
        (httpx.Response(500, json={"detail": "boom"}), 1),
    ],
)
def test_answers_that_are_not_the_contract_exit_1(
    capsys: pytest.CaptureFixture[str], response: httpx.Response, expected: int
) -> None:
    code, out, err = invoke(capsys, ["project", "list"], lambda request: response)
    assert (code, out) == (expected, "")
    assert err.startswith("trioproxy: ")
    assert f"HTTP {response.status_code}" in err
    if response.status_code == 502:
        assert "Bad Gateway" in err


def test_connection_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    code, out, err = invoke(capsys, ["project", "list"], refuse)
    assert (code, out) == (2, "")
    assert err == (
        f"trioproxy: cannot reach the gateway at {URL}: [Errno 111] Connection refused\n"
    )


def test_a_read_timeout_exits_2_and_warns_a_change_may_have_happened(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    code, _, err = invoke(capsys, ["project", "delete", "billing", "--timeout", "1.5"], slow)
    assert code == 2
    assert f"no answer from the gateway at {URL} within 1.5 s" in err
    assert "may have been applied" in err


def test_a_url_without_a_scheme_is_a_clear_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["project", "list", "--url", "gateway.test:4806"])
    assert cli.run(args) == 2  # no transport: httpx itself refuses the URL
    err = capsys.readouterr().err
    assert err.startswith("trioproxy: cannot reach the gateway at gateway.test:4806: ")
