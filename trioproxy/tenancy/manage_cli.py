"""`trioproxy manage`: projects and their tokens, through a running gateway's /manage API.

    trioproxy manage project create billing --model 'gemini-2.5-*' --rpm 60
    trioproxy manage token generate --project billing --name ci --expires-in 7d
    trioproxy manage --json token list --project billing

A thin client: every verb is one HTTP request and the server validates and decides; the
client checks only what argparse can (positive integers, non-empty names, K=V) so typos
fail before a round trip. Design points:
- The common options (--url, --management-token, --json, --timeout) are accepted at every
  level. Every copy defaults to SUPPRESS, so a level that did not see an option cannot
  overwrite one that did; the real defaults (environment, then built-in) are set in `run`.
- Create/update options default to SUPPRESS too: the namespace holds exactly the options
  given, which is what a PATCH must send (`none`, --any-model, --any-upstream: JSON null).
- The management token is a `Secret` from the moment it is parsed, so the namespace,
  tracebacks and messages can only show its mask; it is revealed once, into the header.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TypeAlias
from urllib.parse import quote

import httpx

from trioproxy.secret import Secret, scrub

DEFAULT_URL = "http://127.0.0.1:4806"
SECRET_WARNING = "This token will not be shown again: store it now."
NO_TOKEN = "no management token: set TRIOPROXY_MANAGEMENT_TOKEN or pass --management-token"
TOKEN_HELP = "default: $TRIOPROXY_MANAGEMENT_TOKEN (better: argv is visible to `ps`)"
LIMIT_OPTIONS = {
    "--rpm": "requests_per_minute",
    "--rph": "requests_per_hour",
    "--tpd": "tokens_per_day",
}
PROJECT_FIELDS = ("description", "metadata", "models", "upstreams")
Json = dict[str, Any]
Request = tuple[str, str, Json | None, dict[str, str] | None]
Verbs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _limit_or_none(text: str) -> int | None:
    return None if text.lower() == "none" else _positive(text)


def _nonempty(text: str) -> str:
    # An empty name would turn /manage/projects/{name} into the collection's URL.
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _add_common(parser: argparse.ArgumentParser) -> None:
    s = argparse.SUPPRESS
    parser.add_argument("--url", default=s, help=f"$TRIOPROXY_URL or {DEFAULT_URL}")
    parser.add_argument("--management-token", type=Secret, default=s, help=TOKEN_HELP)
    parser.add_argument("--json", action="store_true", default=s, help="print the JSON answer")
    parser.add_argument("--timeout", type=float, default=s, help="seconds (default 10)")


def _add_fields(parser: argparse.ArgumentParser, *, update: bool) -> None:
    s = argparse.SUPPRESS
    parser.add_argument("--description", default=s)
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--model", dest="models", action="append", default=s, metavar="GLOB")
    upstreams = parser.add_mutually_exclusive_group()
    upstreams.add_argument("--upstream", dest="upstreams", action="append", default=s)
    if update:  # SUPPRESS here too, or merely parsing them would send nulls
        models.add_argument("--any-model", dest="models", action="store_const", default=s)
        upstreams.add_argument("--any-upstream", dest="upstreams", action="store_const", default=s)
    parser.add_argument("--metadata", type=_pair, action="append", default=s, metavar="K=V")
    _add_limits(parser, clearable=update)


def _add_limits(parser: argparse.ArgumentParser, *, clearable: bool) -> None:
    for option, field in LIMIT_OPTIONS.items():
        kind, text = (_limit_or_none, " ('none' clears it)") if clearable else (_positive, "")
        help = field.replace("_", " ") + text
        parser.add_argument(option, dest=field, type=kind, default=argparse.SUPPRESS, help=help)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `manage` nouns and verbs (and the common options, at every level)."""
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common)
    _add_common(parser)
    nouns = parser.add_subparsers(dest="manage_noun", required=True)

    def verbs(noun: str, text: str) -> Verbs:
        found = nouns.add_parser(noun, help=text, parents=[common])
        return found.add_subparsers(dest="manage_verb", required=True)

    def leaf(group: Verbs, verb: str, text: str) -> argparse.ArgumentParser:
        return group.add_parser(verb, help=text, parents=[common])

    project = verbs("project", "projects: allowed models and upstreams, limits, usage")
    create = leaf(project, "create", "create a project")
    leaf(project, "list", "list the projects")
    get = leaf(project, "get", "show a project")
    update = leaf(project, "update", "change only the options given")
    delete = leaf(project, "delete", "delete a project and its tokens")
    for named in (create, get, update, delete):
        named.add_argument("name", type=_nonempty)
    _add_fields(create, update=False)
    _add_fields(update, update=True)

    token = verbs("token", "tokens: short-lived client credentials of a project")
    generate = leaf(token, "generate", "mint a token (its secret is printed once)")
    generate.add_argument("--project", required=True, type=_nonempty)
    generate.add_argument("--name", default=argparse.SUPPRESS)
    generate.add_argument("--expires-in", default=argparse.SUPPRESS, help="3600, 15m, 12h, 30d")
    _add_limits(generate, clearable=False)
    leaf(token, "list", "list tokens, newest first").add_argument("--project")
    for verb in ("get", "revoke", "delete"):
        leaf(token, verb, f"{verb} a token").add_argument("token_id", metavar="ID", type=_nonempty)


def _segment(value: str) -> str:
    # quote() leaves dots alone, and httpx resolves "." and ".." path segments away.
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if not quoted.strip(".") else quoted


def _fields(args: argparse.Namespace, names: tuple[str, ...]) -> Json:
    body: Json = {name: getattr(args, name) for name in names if hasattr(args, name)}
    if "metadata" in body:
        body["metadata"] = dict(body["metadata"])
    if isinstance(body.get("expires_in"), str) and body["expires_in"].isdecimal():
        body["expires_in"] = int(body["expires_in"])  # the API takes bare seconds as an int
    limits = {field: getattr(args, field) for field in LIMIT_OPTIONS.values() if field in args}
    return {**body, "limits": limits} if limits else body


def _request(args: argparse.Namespace) -> Request:
    projects, tokens = "/manage/projects", "/manage/tokens"
    match args.manage_noun, args.manage_verb:
        case "project", "list":
            return "GET", projects, None, None
        case "project", "create":
            return "POST", projects, {"name": args.name, **_fields(args, PROJECT_FIELDS)}, None
        case "project", "update":
            return "PATCH", f"{projects}/{_segment(args.name)}", _fields(args, PROJECT_FIELDS), None
        case "project", verb:
            return verb.upper(), f"{projects}/{_segment(args.name)}", None, None
        case "token", "generate":
            body = {"project": args.project, **_fields(args, ("name", "expires_in"))}
            return "POST", tokens, body, None
        case "token", "list":
            return "GET", tokens, None, {"project": args.project} if args.project else None
        case "token", "revoke":
            return "POST", f"{tokens}/{_segment(args.token_id)}/revoke", None, None
        case "token", verb:
            return verb.upper(), f"{tokens}/{_segment(args.token_id)}", None, None
    raise AssertionError(f"unknown command {args.manage_noun} {args.manage_verb}")


def run(args: argparse.Namespace, *, transport: httpx.BaseTransport | None = None) -> int:
    """Send the command's one request and print the answer. Exit 0 on success, 1 when the
    gateway refuses (or answers nonsense), 2 when it is unreachable or argv incomplete."""
    url: str = getattr(args, "url", None) or os.environ.get("TRIOPROXY_URL") or DEFAULT_URL
    secret: Secret = getattr(args, "management_token", None) or Secret(
        os.environ.get("TRIOPROXY_MANAGEMENT_TOKEN", "")
    )
    if not secret.reveal():
        return _fail(NO_TOKEN, 2)
    if not (secret.reveal().isascii() and secret.reveal().isprintable()):
        return _fail("the management token must be printable ASCII", 2)
    timeout: float = getattr(args, "timeout", 10.0)
    method, path, body, params = _request(args)
    if method == "PATCH" and not body:
        return _fail("nothing to update: give at least one option", 2)
    headers = {"authorization": f"Bearer {secret.reveal()}"}
    try:
        with httpx.Client(base_url=url, transport=transport, timeout=timeout) as client:
            response = client.request(method, path, json=body, params=params, headers=headers)
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
        # The request may have reached the server: say so rather than "cannot reach".
        maybe = "" if method == "GET" else " (the change may have been applied)"
        return _fail(f"no answer from the gateway at {url} within {timeout:g} s{maybe}", 2)
    except (httpx.TransportError, httpx.InvalidURL) as error:
        reason = scrub(str(error) or type(error).__name__, secret)
        return _fail(f"cannot reach the gateway at {url}: {reason}", 2)
    try:
        payload = response.json()
    except ValueError:  # also UnicodeDecodeError
        payload = None
    status = response.status_code
    if not response.is_success:
        message = _at(payload, "error", "message")
        if not isinstance(message, str) or not message:
            message = f"{response.reason_phrase or 'error'}, not a trioproxy JSON error"
        # The server never echoes the token, but a proxy in front of it might.
        return _fail(f"{scrub(message, secret)} (HTTP {status})", 1)
    if not isinstance(payload, dict):
        kind = response.headers.get("content-type", "no content-type")
        return _fail(f"no JSON object from {url} (HTTP {status}, {kind}): is it trioproxy?", 1)
    as_json = getattr(args, "json", False)
    text = json.dumps(payload, indent=2, ensure_ascii=False) if as_json else _render(args, payload)
    # What the server holds may be text stdout cannot encode (a lone surrogate): escaped.
    encoding = sys.stdout.encoding or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding))
    return 0


def _fail(message: str, code: int) -> int:
    print(f"trioproxy: {message}", file=sys.stderr)
    return code


def _at(view: Any, *path: str) -> Any:
    for key in path:
        view = view.get(key) if isinstance(view, dict) else None
    return view


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "any" if key in ("models", "upstreams") else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def _block(view: Json) -> str:
    rows: list[tuple[str, str]] = []

    def walk(node: Json, prefix: str) -> None:
        for key, value in node.items():
            # The secret is printed apart, once; metadata reads best as k=v pairs.
            if key == "token" and not prefix:
                continue
            if isinstance(value, dict) and key != "metadata":
                walk(value, f"{prefix}{key}.")
            else:
                rows.append((f"{prefix}{key}:", _cell(key, value)))

    walk(view, "")
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name:<{width}} {value}".rstrip() for name, value in rows)


# Table columns as HEADER=path (dotted into the view; "_" in a header prints as a space).
LIMITS = "RPM=limits.requests_per_minute RPH=limits.requests_per_hour TPD=limits.tokens_per_day"
USAGE = "REQUESTS=usage.requests TOKENS_USED=tokens_used LAST_USED=usage.last_used_at"
PROJECT_COLUMNS = f"NAME=name MODELS=models UPSTREAMS=upstreams {LIMITS} ACTIVE_TOKENS=tokens"
TOKEN_COLUMNS = f"ID=id PROJECT=project NAME=name STATE=state EXPIRES_AT=expires_at {LIMITS}"


def _table(columns: str, views: list[Json], empty: str) -> str:
    if not views:
        return empty
    specs = [spec.split("=") for spec in f"{columns} {USAGE}".split()]
    rows = [[header.replace("_", " ") for header, _ in specs]]
    for view in views:
        usage = view.get("usage") or {}
        # What a tokens-per-day limit counts: prompt + completion.
        used = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
        view = {**view, "tokens_used": used}
        rows.append([_cell(path.split(".")[-1], _at(view, *path.split("."))) for _, path in specs])
    widths = [max(len(row[i]) for row in rows) for i in range(len(specs))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _render(args: argparse.Namespace, payload: Json) -> str:
    match args.manage_noun, args.manage_verb:
        case "project", "list":
            return _table(PROJECT_COLUMNS, payload.get("projects") or [], "no projects")
        case "token", "list":
            return _table(TOKEN_COLUMNS, payload.get("tokens") or [], "no tokens")
        case "project", "delete":
            deleted, count = payload.get("deleted"), payload.get("tokens_deleted")
            return f"deleted project {deleted} and its {count} token(s)"
        case "token", "delete":
            return f"deleted token {payload.get('deleted')}"
        case "token", "generate":
            secret = f"The new token:\n\n    {payload.get('token')}\n\n{SECRET_WARNING}"
            return f"{_block(payload)}\n\n{secret}"
    return _block(payload)
