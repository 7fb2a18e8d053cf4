"""The per-app state every handler reads: the current runtime (config, pipeline), metrics. Built by `create_app`,
never global."""

from __future__ import annotations

import itertools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from lunaroute.config import Config
from lunaroute.observability import Metrics
from lunaroute.observability.tracing import Tracing, TracingSettings
from lunaroute.pipeline import Pipeline
from lunaroute.policies import Policies
from lunaroute.scrub import Scrubber
from lunaroute.server._runtime import Runtime

if TYPE_CHECKING:
    from lunaroute.keys import KeyManager
    from lunaroute.recording._capture import Capture
    from lunaroute.server._recording_health import RecordingHealth

__all__ = ["GATEWAY", "Gateway"]


@dataclass(slots=True)
class Gateway:
    runtime: Runtime
    """The config and request path new requests use; a config reload replaces it in one assignment. A handler
    reads it once and keeps that one to the end of its request (`Runtime.enter`/`leave`)."""
    metrics: Metrics
    keepalive_secs: float | None
    log_requests: bool
    capture: Capture | None = None
    recording_health: RecordingHealth | None = None
    """Set with `capture`: whether recording keeps up (`/readyz`, `session_recording.required`)."""
    policies: Policies = field(default_factory=Policies)
    """Auth, scopes, limits and budgets; their parts are set at start-up, before the listener opens."""
    keys: KeyManager | None = None
    """Set when the key store is open (keys mode or an admin key): what the admin API manages."""
    tracing: Tracing = field(default_factory=lambda: Tracing(TracingSettings()))
    scrubber: Scrubber = field(default_factory=lambda: Scrubber(()))
    """The configured secrets, masked in upstream error answers."""
    gather_metrics: Callable[[], Awaitable[bytes]] | None = None
    """In a worker of `serve --workers N`: the exposition of the whole gateway (every process merged), which
    `/metrics` answers instead of this process's own."""
    _id_prefix: str = field(default_factory=lambda: os.urandom(8).hex())
    _id_counter: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def config(self) -> Config:
        """The current config (a handler that must see one config throughout reads `runtime` once instead)."""
        return self.runtime.config

    @property
    def pipeline(self) -> Pipeline:
        return self.runtime.pipeline

    def new_request_id(self) -> str:
        """A request id unique to this process run: a random prefix and a counter (no syscall per request)."""
        return f"{self._id_prefix}{next(self._id_counter):08x}"


GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
