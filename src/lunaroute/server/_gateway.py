"""The per-app state every handler reads: config, pipeline, metrics. Built by `create_app`, never global."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from lunaroute.config import Config
from lunaroute.observability import Metrics
from lunaroute.pipeline import Pipeline

__all__ = ["GATEWAY", "Gateway"]


@dataclass(slots=True)
class Gateway:
    config: Config
    pipeline: Pipeline
    metrics: Metrics
    keepalive_secs: float | None
    log_requests: bool


GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
