"""The per-app state every handler reads: config, pipeline, metrics. Built by `create_app`, never global."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from lunaroute.config import Config
from lunaroute.observability import Metrics
from lunaroute.pipeline import Pipeline

if TYPE_CHECKING:
    from lunaroute.recording._capture import Capture

__all__ = ["GATEWAY", "Gateway"]


@dataclass(slots=True)
class Gateway:
    config: Config
    pipeline: Pipeline
    metrics: Metrics
    keepalive_secs: float | None
    log_requests: bool
    capture: Capture | None = None


GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
