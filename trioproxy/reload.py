"""Applying a changed keys.yaml to the running gateway.

A reload reads the file once, validates all of it, builds a complete new `Gateway` from
it and the running one, and only then swaps the app's reference: one assignment, so a
request sees either the old config or the new one, never half of each (requests pin
their gateway when admitted; see trioproxy.gateway).

What carries over (KeyPool): a key with the same name *and* the same secret (compared by
fingerprint) keeps all its state: cooldowns, breaker, health, in-flight count. A removed
key is simply absent from the new pool: its in-flight calls finish against the old
gateway they were lent by, and nothing new reaches it. A new key, or a key whose secret
changed, starts fresh.

A file that does not validate (YAML error, schema error, unset ${ENV}) changes nothing:
the problems are logged with their field paths (never values, so never secrets) and
counted, and the gateway keeps serving the config it has.

Reloads run one at a time; a save that leaves the file's bytes as they were is not a
reload (editors and `touch` produce such events).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import trio

from trioproxy import logs
from trioproxy.config import ConfigError
from trioproxy.config.loader import read_config
from trioproxy.gateway import Gateway
from trioproxy.runtime import resolve
from trioproxy.settings import Settings

# Settings baked into objects built once at startup: a change is logged, not applied.
_RESTART_ONLY = ("connect_timeout",)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    outcome: str  # "applied", "unchanged" or "failed"
    problems: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # Same name, new secret: a new credential under an old name, so it starts fresh.
    replaced: tuple[str, ...] = ()


@dataclass(slots=True)
class ReloadStatus:
    counts: Counter[str] = field(default_factory=Counter)
    last_outcome: str | None = None
    last_at: float | None = None  # UNIX time
    last_problems: tuple[str, ...] = ()


class Reloader:
    def __init__(
        self,
        settings: Settings,
        *,
        simulated: bool,
        current: Callable[[], Gateway],
        swap: Callable[[Gateway], None],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.simulated = simulated
        self.current = current
        self.swap = swap
        self.env = env
        self.status = ReloadStatus()
        self._digest: bytes | None = None
        self._lock = trio.Lock()

    def remember(self, raw: bytes) -> None:
        """The bytes the running config was built from (so an untouched file is no
        reload)."""
        self._digest = hashlib.sha256(raw).digest()

    async def reload(self, *, trigger: str, force: bool = False) -> ReloadResult:
        """Re-read keys.yaml and apply it. `force`: apply even if the bytes are unchanged
        (SIGHUP and the admin API mean "reload now")."""
        async with self._lock:
            result = await self._reload(force)
        if result.outcome != "unchanged" or force:
            self._record(result, trigger)
        return result

    async def _reload(self, force: bool) -> ReloadResult:
        path = self.settings.config_path
        try:
            raw = await trio.to_thread.run_sync(read_config, path)
        except ConfigError as error:
            return ReloadResult("failed", _problems(error))
        digest = hashlib.sha256(raw).digest()
        if digest == self._digest and not force:
            return ReloadResult("unchanged")
        try:
            # Parsing and validating a large file takes long enough (seconds for 10,000
            # keys) to stall every request if done on the event loop.
            runtime = await trio.to_thread.run_sync(
                partial(resolve, self.settings, self.env, raw=raw)
            )
        except ConfigError as error:
            return ReloadResult("failed", _problems(error))
        if runtime.simulated != self.simulated:
            return ReloadResult(
                "failed",
                (f"{path}: switching between the simulated Gemini and a real one needs a restart",),
            )
        old = self.current()
        new = old.successor(runtime.config)
        self.swap(new)
        self._digest = digest
        return _changes(old, new)

    def _record(self, result: ReloadResult, trigger: str) -> None:
        status = self.status
        status.counts[result.outcome] += 1
        status.last_outcome = result.outcome
        status.last_at = time.time()
        status.last_problems = result.problems
        if result.outcome == "failed":
            logs.event(
                "config reload failed: keeping the running config",
                logging.ERROR,
                trigger=trigger,
                config=str(self.settings.config_path),
                problems=list(result.problems),
            )
            return
        logs.event(
            "config reloaded",
            trigger=trigger,
            outcome=result.outcome,
            added=list(result.added),
            removed=list(result.removed),
            replaced=list(result.replaced),
            keys=len(self.current().config.keys),
        )


def _problems(error: ConfigError) -> tuple[str, ...]:
    # "path: field: reason" lines; the loader never puts a value in them.
    return tuple(
        f"{problem.path}: {problem.message}" if problem.path else problem.message
        for problem in error.problems
    )


def _changes(old: Gateway, new: Gateway) -> ReloadResult:
    before = {key.name: key for key in old.pool.keys}
    after = {key.name: key for key in new.pool.keys}
    for setting in _RESTART_ONLY:
        if getattr(old.config.gateway, setting) != getattr(new.config.gateway, setting):
            logs.event(
                "config reload: this setting takes effect after a restart",
                logging.WARNING,
                setting=f"gateway.{setting}",
            )
    return ReloadResult(
        "applied",
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        replaced=tuple(
            name for name in after if name in before and after[name] is not before[name]
        ),
    )
