"""HTTP handlers. Each is thin: decode the request, run the pipeline, relay the answer."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time

import msgspec
from aiohttp import web

from lunaroute import __version__
from lunaroute.dialects.errors import error_body, error_headers
from lunaroute.errors import LunaRouteError, UnsupportedMedia
from lunaroute.observability import CONTENT_TYPE_LATEST
from lunaroute.pipeline import JSON_ENDPOINTS, Inbound, Outbound, inspect_body
from lunaroute.routing import classify, normalise_path
from lunaroute.server._gateway import GATEWAY, Gateway
from lunaroute.server._limits import check_headers, read_body
from lunaroute.server._relay import RelayOutcome, relay_body, relay_stream, wants_streamed_relay
from lunaroute.types import Dialect

__all__ = ["handle_health", "handle_metrics", "handle_proxy", "handle_ready", "handle_root"]

_log = logging.getLogger("lunaroute.access")
CLIENT_CLOSED = 499
"""The status recorded for a request whose client went away before its response ended."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_JSON = "application/json"
_encode = msgspec.json.Encoder().encode


def _request_id(request: web.Request) -> str:
    given = request.headers.get("x-request-id")
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return os.urandom(12).hex()


def _guess_dialect(path: str, request: web.Request) -> Dialect:
    """The dialect to answer in when the request could not be classified."""
    if path.startswith("/v1/messages") or "anthropic-version" in request.headers:
        return "anthropic"
    return "openai"


def _error(dialect: Dialect, exc: LunaRouteError, request_id: str) -> web.Response:
    headers = error_headers(exc)
    headers["x-lunaroute-request-id"] = request_id
    return web.Response(status=exc.status, body=error_body(dialect, exc), headers=headers)


async def handle_proxy(request: web.Request) -> web.StreamResponse:
    """Every API path: classify, read, send through the pipeline, relay."""
    gw = request.app[GATEWAY]
    started = time.perf_counter()
    request_id = _request_id(request)
    raw_path = request.raw_path
    dialect: Dialect = "openai"
    endpoint = "unknown"
    gw.metrics.in_flight.inc()
    try:
        try:
            path = normalise_path(raw_path)
            dialect = _guess_dialect(path, request)
            headers = check_headers(request, gw.config.http_server)
            route = classify(request.method, path, headers, bypass_enabled=gw.config.bypass.enabled)
            dialect, endpoint = route.endpoint.dialect, route.endpoint.value
            _check_content_type(request, route.endpoint in JSON_ENDPOINTS)
            body = await read_body(request, gw.config.http_server.max_request_body_bytes)
            model, stream = inspect_body(route.endpoint, body) if route.endpoint in JSON_ENDPOINTS else (None, False)
            inbound = Inbound(
                route=route,
                method=request.method,
                query=request.query_string,
                headers=headers,
                body=body,
                model=model,
                stream=stream,
                request_id=request_id,
                started=started,
            )
            outbound = await gw.pipeline.send(inbound)
        except LunaRouteError as exc:
            _finish(gw, dialect, endpoint, "gateway", exc.status, started, request, request_id)
            return _error(dialect, exc, request_id)
        except asyncio.CancelledError:
            # The client went away before the upstream answered (aiohttp cancels the handler).
            gw.metrics.disconnects.labels(dialect, endpoint).inc()
            _finish(gw, dialect, endpoint, "gateway", CLIENT_CLOSED, started, request, request_id)
            raise
        return await _relay(request, gw, inbound, outbound)
    finally:
        gw.metrics.in_flight.dec()


async def _relay(request: web.Request, gw: Gateway, inbound: Inbound, outbound: Outbound) -> web.StreamResponse:
    provider = outbound.provider.name
    response_upstream = outbound.response
    endpoint = inbound.route.endpoint.value
    extra = {"x-lunaroute-request-id": inbound.request_id, "x-lunaroute-provider": provider}
    status = response_upstream.status
    try:
        if wants_streamed_relay(response_upstream, inbound.route.bypass):
            response, outcome = await relay_stream(
                request,
                response_upstream,
                dialect=inbound.dialect,
                extra=extra,
                keepalive_secs=gw.keepalive_secs,
                metrics=gw.metrics,
                labels=(inbound.dialect, endpoint),
            )
            if outcome == RelayOutcome.CLIENT_DISCONNECTED:
                gw.metrics.disconnects.labels(inbound.dialect, endpoint).inc()
                status = CLIENT_CLOSED
            return response
        try:
            return await relay_body(response_upstream, extra)
        except LunaRouteError as exc:
            status = exc.status
            return _error(inbound.dialect, exc, inbound.request_id)
    except asyncio.CancelledError:
        gw.metrics.disconnects.labels(inbound.dialect, endpoint).inc()
        status = CLIENT_CLOSED
        raise
    finally:
        response_upstream.close()
        _finish(gw, inbound.dialect, endpoint, provider, status, inbound.started, request, inbound.request_id)


def _check_content_type(request: web.Request, is_json: bool) -> None:
    if not is_json or request.method == "GET":
        return
    ctype = request.headers.get("content-type")
    if ctype is None:
        return
    mime = ctype.split(";", 1)[0].strip().lower()
    if mime != _JSON and not mime.endswith("+json"):
        raise UnsupportedMedia(f"content-type must be {_JSON}, not {mime or 'empty'}")


def _finish(
    gw: Gateway,
    dialect: str,
    endpoint: str,
    provider: str,
    status: int,
    started: float,
    request: web.Request,
    request_id: str,
) -> None:
    elapsed = time.perf_counter() - started
    gw.metrics.count_request(dialect, endpoint, provider, status)
    gw.metrics.duration.labels(dialect, endpoint).observe(elapsed)
    if gw.log_requests:
        _log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "listener": dialect,
                "endpoint": endpoint,
                "provider": provider,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
            },
        )


async def handle_root(request: web.Request) -> web.Response:
    """`GET /` and `HEAD /`: answer at once (Claude Code probes `HEAD /` on start)."""
    return web.Response(body=_encode({"name": "lunaroute", "version": __version__}), content_type=_JSON)


async def handle_health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=_JSON)


async def handle_ready(request: web.Request) -> web.Response:
    """Ready while at least one served dialect has an enabled provider; lists the providers."""
    gw = request.app[GATEWAY]
    table = gw.pipeline.router
    providers = {name: {"dialect": p.dialect} for name, p in table.providers.items()}
    ready = bool(table.defaults)
    body = {"status": "ready" if ready else "not_ready", "dialects": dict(table.defaults), "providers": providers}
    return web.Response(status=200 if ready else 503, body=_encode(body), content_type=_JSON)


async def handle_metrics(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    response = web.Response(body=gw.metrics.exposition())
    response.headers["content-type"] = CONTENT_TYPE_LATEST
    return response
