"""HTTP handlers. Each is thin: decode the request, run the pipeline, relay the answer."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import msgspec
from aiohttp import web

from lunaroute import __version__
from lunaroute.calls import CLIENT_GONE, Inbound, Outbound
from lunaroute.dialects.errors import error_body, error_headers
from lunaroute.dialects.passthrough import JSON_ENDPOINTS, inspect_body
from lunaroute.errors import LunaRouteError, Overloaded, UnsupportedMedia, UpstreamError, UpstreamTimeout
from lunaroute.observability import CONTENT_TYPE_LATEST
from lunaroute.observability.tracing import NOOP_SPAN
from lunaroute.policies import Admission, Principal
from lunaroute.recording._tap import RecordingTap, client_ip_for, recordable_headers
from lunaroute.routing import classify, normalise_path
from lunaroute.scrub import mask_gateway_keys
from lunaroute.server._gateway import GATEWAY, Gateway
from lunaroute.server._limits import check_headers, read_body
from lunaroute.server._recording_health import RECORDING_RETRY_AFTER_SECS
from lunaroute.server._relay import RelayOutcome, relay_body, relay_stream, wants_streamed_relay
from lunaroute.server._runtime import Runtime
from lunaroute.types import Dialect, Endpoint, ExchangeRecord, Outcome

__all__ = ["handle_health", "handle_metrics", "handle_proxy", "handle_ready", "handle_root"]

_log = logging.getLogger("lunaroute.access")
CLIENT_CLOSED = 499
"""The status recorded for a request whose client went away before its response ended."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_JSON = "application/json"
_encode = msgspec.json.Encoder().encode


def _client_request_id(request: web.Request) -> str | None:
    """The client's `x-request-id` when it is a valid one: echoed and sent upstream, never the record's identity."""
    given = request.headers.get("x-request-id")
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return None


def _guess_dialect(path: str, request: web.Request) -> Dialect:
    """The dialect to answer in when the request could not be classified (`path` may be the raw one)."""
    if path.lstrip("/").startswith("v1/messages") or "anthropic-version" in request.headers:
        return "anthropic"
    return "openai"


def _error(dialect: Dialect, exc: LunaRouteError, request_id: str, client_id: str | None) -> web.Response:
    headers = error_headers(exc)
    headers["x-lunaroute-request-id"] = request_id
    headers["x-request-id"] = client_id or request_id
    return web.Response(status=exc.status, body=error_body(dialect, exc), headers=headers)


async def handle_proxy(request: web.Request) -> web.StreamResponse:
    """Every API path: classify, read, send through the pipeline, relay — all on the runtime (config, providers)
    current when the request arrived, even if a config reload swaps in another meanwhile."""
    gw = request.app[GATEWAY]
    runtime = gw.runtime
    runtime.enter()
    try:
        return await _proxy(request, gw, runtime)
    finally:
        runtime.leave()


async def _proxy(request: web.Request, gw: Gateway, runtime: Runtime) -> web.StreamResponse:
    config = runtime.config
    started = time.perf_counter()
    request_id = gw.new_request_id()
    client_id = _client_request_id(request)
    dialect: Dialect = "openai"
    endpoint: Endpoint | None = None
    headers: list[tuple[str, str]] = []
    body = b""
    tap: RecordingTap | None = None
    admission = Admission()
    span = NOOP_SPAN
    gw.metrics.request_started()
    try:
        dialect = _guess_dialect(request.raw_path, request)
        path = normalise_path(request.raw_path)
        headers = check_headers(request, config.http_server)
        route = classify(request.method, path, headers, bypass_enabled=config.bypass.enabled)
        dialect, endpoint = route.endpoint.dialect, route.endpoint
        if gw.recording_health is not None and gw.recording_health.refusing():
            gw.metrics.request_refused_unrecorded(dialect)
            raise Overloaded(
                "session recording is required and is not possible now (see /readyz); retry shortly",
                retry_after=RECORDING_RETRY_AFTER_SECS,
            )
        admission, headers = gw.policies.identify(headers, request.remote, path)
        span = gw.tracing.request_span(request.method, path, headers, request_id=request_id)
        _check_content_type(request, route.endpoint in JSON_ENDPOINTS)
        body = await read_body(request, config.http_server.max_request_body_bytes)
        model, stream, body = (
            inspect_body(route.endpoint, body) if route.endpoint in JSON_ENDPOINTS else (None, False, body)
        )
        model, body, headers = await gw.policies.admit(admission, route.endpoint, model, body, headers, request_id)
        inbound = Inbound(
            route=route,
            method=request.method,
            query=request.rel_url.raw_query_string,
            headers=headers,
            body=body,
            model=model,
            stream=stream,
            request_id=request_id,
            started=started,
            span=span,
            client_request_id=client_id,
        )
        tap = _tap_for(gw, request, inbound, admission.principal)
        outbound = await runtime.pipeline.send(inbound, tap)
        outbound.response = await admission.on_response(outbound.response)
        if tap is not None:
            tap.record.route = outbound.reason
    except LunaRouteError as exc:
        admission.settle()
        label = endpoint.value if endpoint is not None else "unknown"
        if exc.status >= 500:
            span.record_error(exc)
        span.end(exc.status)
        _finish(gw, dialect, label, "gateway", exc.status, started, request, request_id)
        # With keys on, a request refused before its key was accepted is counted, not recorded: a key scan
        # must not fill the disk.
        anonymous = gw.policies.auth is not None and admission.principal is None
        if gw.capture is not None and endpoint is not None and not anonymous:
            tap = tap or _make_tap(
                gw,
                request,
                request_id,
                dialect,
                endpoint,
                headers,
                body,
                started,
                admission.principal,
                model=None,
                stream=False,
            )
            outcome: Outcome = "upstream_timeout" if isinstance(exc, UpstreamTimeout) else "rejected"
            if isinstance(exc, UpstreamError) and not isinstance(exc, UpstreamTimeout):
                outcome = "upstream_error"
            tap.finish(exc.status, outcome, exc.message)
        return _error(dialect, exc, request_id, client_id)
    except asyncio.CancelledError:
        # The client went away before the upstream answered (aiohttp cancels the handler).
        admission.settle()
        label = endpoint.value if endpoint is not None else "unknown"
        gw.metrics.client_gone(dialect, label)
        span.end(CLIENT_CLOSED)
        _finish(gw, dialect, label, "gateway", CLIENT_CLOSED, started, request, request_id)
        if tap is not None:
            tap.finish(None, "client_disconnected")
        raise
    return await _relay(request, gw, inbound, outbound, tap, admission)


def _tap_for(gw: Gateway, request: web.Request, inbound: Inbound, principal: Principal | None) -> RecordingTap | None:
    capture = gw.capture
    if capture is None:
        return None
    return _make_tap(
        gw,
        request,
        inbound.request_id,
        inbound.dialect,
        inbound.route.endpoint,
        inbound.headers,
        inbound.body,
        inbound.started,
        principal,
        model=inbound.model,
        stream=inbound.stream,
    )


def _make_tap(
    gw: Gateway,
    request: web.Request,
    request_id: str,
    dialect: Dialect,
    endpoint: Endpoint,
    headers: list[tuple[str, str]],
    body: bytes,
    started: float,
    principal: Principal | None,
    *,
    model: str | None,
    stream: bool,
) -> RecordingTap:
    assert gw.capture is not None
    rec = gw.config.session_recording
    record = ExchangeRecord(
        request_id=request_id,
        started_at=time.time() - (time.perf_counter() - started),
        listener=dialect,
        endpoint=endpoint,
        method=request.method,
        path=request.path,
        request_headers=recordable_headers(
            headers, capture_user_agent=rec.capture_user_agent, max_user_agent=rec.max_user_agent_length
        ),
        request_body=body,
        model_requested=model,
        is_streaming=stream,
        client_ip=client_ip_for(request.remote, rec.client_ip),
        client_request_id=_client_request_id(request),
    )
    if principal is not None:
        record.key_id, record.key_name, record.team = principal.key_id, principal.key_name, principal.team
        record.request_body = mask_gateway_keys(record.request_body)
    return RecordingTap(gw.capture, record, started=started, limit=rec.max_capture_bytes)


async def _relay(
    request: web.Request,
    gw: Gateway,
    inbound: Inbound,
    outbound: Outbound,
    tap: RecordingTap | None,
    admission: Admission,
) -> web.StreamResponse:
    provider = outbound.provider.name
    response_upstream = outbound.response
    endpoint = inbound.route.endpoint.value
    extra = {"x-lunaroute-request-id": inbound.request_id, "x-lunaroute-provider": provider}
    extra.update(admission.answer_headers(inbound.dialect))
    meter = admission.meter
    if not any(name == "x-request-id" for name, _ in response_upstream.headers):
        extra["x-request-id"] = inbound.echoed_request_id
    status = response_upstream.status
    try:
        if wants_streamed_relay(response_upstream, inbound.route.bypass):
            response, outcome, failure = await relay_stream(
                request,
                response_upstream,
                dialect=inbound.dialect,
                extra=extra,
                keepalive_secs=gw.keepalive_secs,
                metrics=gw.metrics,
                labels=(inbound.dialect, endpoint),
                tap=tap,
                deadline=outbound.deadline,
                started=inbound.started,
                meter=meter,
                scrub=gw.scrubber,
                max_bytes=gw.config.http_server.max_response_bytes,
            )
            if outcome == RelayOutcome.CLIENT_DISCONNECTED:
                gw.metrics.client_gone(inbound.dialect, endpoint)
                status = CLIENT_CLOSED
                failure = CLIENT_GONE
            outbound.ended(failure)
            return response
        try:
            response = await relay_body(
                response_upstream,
                extra,
                tap,
                outbound.deadline,
                pre_ms=(outbound.sent_at - inbound.started) * 1000,
                meter=meter,
                scrub=gw.scrubber,
            )
            status = response.status
            return response
        except LunaRouteError as exc:
            status = exc.status
            if tap is not None:
                kind: Outcome = "upstream_timeout" if isinstance(exc, UpstreamTimeout) else "upstream_error"
                tap.finish(exc.status, kind, exc.message)
            return _error(inbound.dialect, exc, inbound.request_id, inbound.client_request_id)
    except asyncio.CancelledError:
        gw.metrics.client_gone(inbound.dialect, endpoint)
        status = CLIENT_CLOSED
        if tap is not None:
            tap.finish(None, "client_disconnected")
        raise
    finally:
        outbound.close()
        admission.settle(provider, inbound.model, response_upstream.status)
        inbound.span.set_route(provider=provider, route=outbound.reason, translated=outbound.translated)
        inbound.span.end(status)
        _finish(
            gw,
            inbound.dialect,
            endpoint,
            provider,
            status,
            inbound.started,
            request,
            inbound.request_id,
            streaming=inbound.stream,
            model=inbound.model,
        )


def _check_content_type(request: web.Request, is_json: bool) -> None:
    if not is_json or request.method == "GET":
        return
    # A missing content type is refused too: a cross-site page can POST without one (no CORS preflight).
    mime = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
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
    *,
    streaming: bool = False,
    model: str | None = None,
) -> None:
    elapsed = time.perf_counter() - started
    gw.metrics.request_ended(dialect, endpoint, provider, status, streaming, elapsed)
    if gw.log_requests and gw.capture is None:
        # With recording on, the access line is written once the exchange is parsed (tokens, session id).
        _log.info(
            "request",
            extra={
                "request_id": request_id,
                "client_request_id": _client_request_id(request),
                "method": request.method,
                "path": request.path,
                "listener": dialect,
                "endpoint": endpoint,
                "provider": provider,
                "status": status,
                "model": model,
                "streaming": streaming,
                "duration_ms": round(elapsed * 1000, 3),
            },
        )


async def handle_root(request: web.Request) -> web.Response:
    """`GET /` and `HEAD /`: answer at once (Claude Code probes `HEAD /` on start)."""
    return web.Response(body=_encode({"name": "lunaroute", "version": __version__}), content_type=_JSON)


async def handle_health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=_JSON)


async def handle_ready(request: web.Request) -> web.Response:
    """Ready while some served dialect has a provider whose circuit is not open; lists every provider's
    dialect, breaker state and health, and the `recording` component. `status` is `degraded` (still 200) while
    recording does not keep up, and `not_ready` (503) while requests are refused because recording is required
    and impossible."""
    gw = request.app[GATEWAY]
    pipeline = gw.runtime.pipeline
    router, resilience = pipeline.router, pipeline.resilience
    health = resilience.health.snapshot()
    providers = {
        name: {
            "dialect": p.dialect,
            "breaker": resilience.state(name).value,
            "health": msgspec.to_builtins(health[name]) if name in health else None,
        }
        for name, p in router.providers.items()
    }
    usable = [name for name in router.providers if resilience.state(name).value != "open"]
    ready = bool(router.defaults) and bool(usable)
    body: dict[str, object] = {"dialects": dict(router.defaults), "providers": providers}
    status = "ready" if ready else "not_ready"
    recording_health = gw.recording_health
    if recording_health is None:
        body["recording"] = {"status": "off" if not gw.config.session_recording.enabled else "starting"}
    else:
        recording = recording_health.snapshot()
        body["recording"] = recording
        if recording_health.refusing():
            status = "not_ready"
        elif ready and recording["status"] != "ok":
            status = "degraded"
    body = {"status": status, **body}
    return web.Response(status=503 if status == "not_ready" else 200, body=_encode(body), content_type=_JSON)


async def handle_metrics(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    body = gw.metrics.exposition()
    if body is None:
        raise web.HTTPNotFound(text="metrics are disabled", content_type="text/plain")
    if gw.gather_metrics is not None:
        body = await gw.gather_metrics()
    response = web.Response(body=body)
    response.headers["content-type"] = CONTENT_TYPE_LATEST
    return response
