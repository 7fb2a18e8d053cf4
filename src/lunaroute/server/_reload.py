"""Config hot reload: re-read the config file, validate it whole, swap the gateway's runtime in one assignment.

Triggers: SIGHUP (`server._runner`), `POST /admin/reload` (and `lunaroute reload`, which uses one or the other),
and a watch on the config file (`reload.watch`). A reload builds a complete `Runtime` off to the side (providers
whose config is unchanged are taken over with their pools, breakers and health), then assigns it to
`Gateway.runtime`: requests in flight finish on the runtime they started with; the providers it alone used are
closed once its last request has left. A file that does not load, or that changes a key read only at start-up,
changes nothing: the running config stays, one error is logged, and the status (`GET /admin/config`) and
`lunaroute_config_reloads_total{result="error"}` say so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
from aiohttp import web

from lunaroute.config import Config, ConfigLocation, check_exposure, config_warnings, load_config
from lunaroute.errors import ConfigError
from lunaroute.scrub import Scrubber
from lunaroute.server._gateway import Gateway
from lunaroute.server._runtime import Runtime, build_runtime

__all__ = ["LIVE_SECTIONS", "RELOADER", "ConfigSource", "ReloadStatus", "Reloader", "restart_only_changes"]

_log = logging.getLogger("lunaroute.server")

LIVE_SECTIONS = frozenset({"providers", "routing", "bypass", "api_dialect"})
"""Top-level config keys a reload applies. Every other key is read once at start-up (the listener, recording,
the UI, metrics and tracing, logging, auth, limits and their state): a reload that changes one is refused."""
_MAX_NAMED = 8


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where the running config came from: the file (None: the built-in defaults) and the command line's
    `--host`/`--port`, which a reload applies again so that they keep winning over the file."""

    path: ConfigLocation
    """The config file, or a tenant's config in PostgreSQL (a Rust bootstrap's `source: database`), or None."""
    host: str | None = None
    port: int | None = None
    env: Mapping[str, str] | None = None

    def load(self) -> Config:
        """The config as `serve` would load it now. Raises `ConfigError` (file, key and reason)."""
        config = load_config(self.path, self.env)
        if self.host is not None:
            config.host = self.host
            check_exposure(config, "--host")
        if self.port is not None:
            config.port = self.port
        return config


class ReloadStatus(msgspec.Struct, kw_only=True):
    """The `reload` member of `GET /admin/config`. Times are UTC epoch seconds."""

    source: str | None
    """The config file reloads read (None: no file, the built-in defaults)."""
    loaded_at: float
    """When the running config was loaded (start-up or the last successful reload)."""
    reloads: int = 0
    """Successful reloads since start-up."""
    watching: bool = False
    """Whether the config file is watched (`reload.watch`)."""
    last_attempt_at: float | None = None
    last_trigger: Literal["signal", "admin", "watch"] | None = None
    last_result: Literal["ok", "error"] | None = None
    last_error: str | None = None
    """Why the last reload was refused (None after a successful one)."""


def _leaves(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def restart_only_changes(running: Config, new: Config) -> list[str]:
    """The keys outside `LIVE_SECTIONS` whose value differs, as dotted paths (values are never shown)."""
    old_tree, new_tree = msgspec.to_builtins(running), msgspec.to_builtins(new)
    changed: list[str] = []
    for section in old_tree.keys() | new_tree.keys():
        if section in LIVE_SECTIONS or old_tree.get(section) == new_tree.get(section):
            continue
        before, after = _leaves(old_tree.get(section), section), _leaves(new_tree.get(section), section)
        changed.extend(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    return sorted(changed)


class Reloader:
    """Reloads `gateway`'s config from `source`, one reload at a time; owns the file watch and the runtimes
    retired by reloads until they are closed."""

    def __init__(self, gateway: Gateway, source: ConfigSource | None, env: Mapping[str, str] | None = None) -> None:
        self._gateway = gateway
        self._source = source
        self._env = env
        self._lock = asyncio.Lock()
        self._closing: dict[Runtime, asyncio.Task[None]] = {}
        self._watch: asyncio.Task[None] | None = None
        self._stop_watch = asyncio.Event()
        path = source.path if source is not None else None
        self.status = ReloadStatus(source=str(path) if path is not None else None, loaded_at=time.time())

    async def reload(self, trigger: Literal["signal", "admin", "watch"]) -> ReloadStatus:
        """Load, validate and swap in the config; on any refusal keep the running one. Returns the status."""
        async with self._lock:
            status = self.status
            status.last_attempt_at, status.last_trigger = time.time(), trigger
            try:
                self._swap(await self._load())
            except (ConfigError, ValueError, OSError) as exc:
                # ValueError/OSError: what building the runtime may still raise (a key file gone since the check).
                status.last_result, status.last_error = "error", str(exc)
                self._gateway.metrics.config_reloaded("error")
                _log.error("config reload (%s) refused; the running config is kept: %s", trigger, exc)
                return status
            status.last_result, status.last_error = "ok", None
            status.loaded_at = time.time()
            status.reloads += 1
            self._gateway.metrics.config_reloaded("ok")
            _log.info("config reloaded (%s) from %s", trigger, status.source or "the built-in defaults")
            return status

    async def _load(self) -> Config:
        if self._source is None:
            raise ConfigError("this gateway was not started from a config source; nothing to reload")
        new = await asyncio.to_thread(self._source.load)
        changed = restart_only_changes(self._gateway.runtime.config, new)
        if changed:
            named = ", ".join(changed[:_MAX_NAMED])
            if len(changed) > _MAX_NAMED:
                named += f" and {len(changed) - _MAX_NAMED} more"
            where = str(self._source.path) if self._source.path is not None else "<defaults>"
            raise ConfigError(f"{where}: these keys cannot change without a restart: {named}")
        for warning in config_warnings(new):
            _log.warning("config: %s", warning)
        return new

    def _swap(self, config: Config) -> None:
        gateway = self._gateway
        old = gateway.runtime
        new = build_runtime(config, gateway.metrics, self._env, previous=old, responses=old.pipeline.responses)
        gateway.scrubber.learn(
            Scrubber.for_providers((p.api_key, p.request_headers) for p in config.providers.values())
        )
        new.report_secrets(gateway.scrubber.add)
        gateway.runtime = new
        old.retire()
        self._closing[old] = asyncio.create_task(self._close_when_drained(old), name="lunaroute-retire-runtime")

    async def _close_when_drained(self, runtime: Runtime) -> None:
        await runtime.drained()
        await runtime.aclose()
        self._closing.pop(runtime, None)

    def start_watching(self, debounce_ms: int) -> None:
        """Reload whenever the config file changes (written in place or replaced by a rename)."""
        path = self._source.path if self._source is not None else None
        if not isinstance(path, Path) or self._watch is not None:
            return  # no file to watch (the defaults, or a config kept in a database: reload it with SIGHUP)
        self._watch = asyncio.create_task(self._watch_file(path.resolve(), debounce_ms), name="lunaroute-watch")
        self.status.watching = True

    async def _watch_file(self, path: Path, debounce_ms: int) -> None:
        from watchfiles import awatch

        # The directory is watched, not the file: editors and config managers replace the file by a rename.
        try:
            async for _ in awatch(
                path.parent,
                watch_filter=lambda _, changed: Path(changed) == path,
                debounce=debounce_ms,
                stop_event=self._stop_watch,
                recursive=False,
            ):
                await self.reload("watch")
        except (OSError, RuntimeError) as exc:
            # watchfiles reports a directory it cannot watch (removed, no permission) as one of these.
            _log.error("config file watch stopped (%s); SIGHUP and POST /admin/reload still reload", exc)
        finally:
            self.status.watching = False

    async def aclose(self) -> None:
        """Stop the watch, then close the retired runtimes (called once every request has ended)."""
        self._stop_watch.set()
        if self._watch is not None:
            # awatch sees the stop event within its step (50 ms) and returns.
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        for runtime, task in list(self._closing.items()):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await runtime.aclose()
        self._closing.clear()


RELOADER: web.AppKey[Reloader] = web.AppKey("reloader", Reloader)
