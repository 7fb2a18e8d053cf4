"""Build and send one upstream call for a provider: passthrough bytes, or a translation into its dialect."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lunaroute.dialects.passthrough import rewrite_model
from lunaroute.errors import UnsupportedFeature
from lunaroute.observability import Metrics
from lunaroute.observability.tracing import NOOP_SPAN, SpanHandle
from lunaroute.providers._headers import forward_request_headers
from lunaroute.recording._tap import RecordingTap
from lunaroute.routing import Route
from lunaroute.translate import (
    TranslatedResponse,
    codec_for,
    count_tokens_locally,
    translate_headers,
    translate_request,
)
from lunaroute.types import Dialect, Endpoint, Provider, UpstreamCall, UpstreamResponse

__all__ = ["CLIENT_GONE", "Inbound", "Outbound", "send_to"]

CLIENT_GONE = "client_disconnected"
"""`Outbound.ended`'s failure when the client left before the stream ended."""

_TRANSLATABLE = frozenset({Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT})


@dataclass(slots=True)
class Inbound:
    """A decoded client request."""

    route: Route
    method: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    model: str | None
    stream: bool
    request_id: str
    """The gateway's own id of this exchange (unique in this run); the record's identity."""
    started: float = field(default_factory=time.perf_counter)
    span: SpanHandle = NOOP_SPAN
    """The request's trace span (a no-op when tracing is off or the request is not sampled)."""
    client_request_id: str | None = None
    """The client's own valid `x-request-id`: sent upstream and echoed back instead of `request_id`."""

    @property
    def echoed_request_id(self) -> str:
        """The `x-request-id` sent upstream and back to the client: the client's own, else the gateway's."""
        return self.client_request_id or self.request_id

    @property
    def dialect(self) -> Dialect:
        return self.route.endpoint.dialect


@dataclass(slots=True)
class Outbound:
    """A provider's answer whose head arrived (passthrough, translated, or answered locally)."""

    provider: Provider
    response: UpstreamResponse
    translated: bool = False
    reason: str = "default"
    on_close: Callable[[], None] | None = None
    deadline: float | None = None
    """Event-loop time by which the whole exchange must end (`total_timeout_secs`), or None."""
    sent_at: float = 0.0
    """`time.perf_counter()` when the call that produced this answer was sent upstream."""
    on_end: Callable[[str | None], None] | None = None
    """Set for an event stream whose provider verdict waits for the stream's end (see `ended`)."""

    def ended(self, failure: str | None) -> None:
        """The relay is over: `failure` is None when the stream ended whole, `CLIENT_GONE` when the client left
        (which says nothing about the provider), else the kind of the provider's failure (`mid_stream`,
        `timeout`, `response_too_large`). Only the first call counts."""
        if self.on_end is not None:
            callback, self.on_end = self.on_end, None
            callback(failure)

    def close(self) -> None:
        """Release the upstream response and whatever was held for it; idempotent. A stream whose end was never
        reported counts as abandoned by the client."""
        self.ended(CLIENT_GONE)
        self.response.close()
        if self.on_close is not None:
            callback, self.on_close = self.on_close, None
            callback()


async def send_to(
    provider: Provider,
    inbound: Inbound,
    body: bytes,
    *,
    model: str | None,
    default_max_tokens: int,
    metrics: Metrics,
    tap: RecordingTap | None,
    span: SpanHandle = NOOP_SPAN,
) -> Outbound:
    """Send `body` (the client's, possibly with markers stripped) to `provider`.

    `model` is the provider's configured model (it replaces the client's) or None. Same dialect (or a mock):
    the bytes go as they are, only `model` patched. Other dialect: conversation endpoints are translated both
    ways, `count_tokens` is answered with a local estimate, anything else is an `UnsupportedFeature` (400).
    """
    if provider.dialect in (inbound.dialect, "any"):
        sent_model = inbound.model
        if model is not None and sent_model is not None and model != sent_model:
            body, sent_model = rewrite_model(body, model), model
        call = UpstreamCall(
            endpoint=inbound.route.endpoint,
            method=inbound.method,
            path=inbound.route.upstream_path,
            query=inbound.query,
            headers=forward_request_headers(
                inbound.headers, stream=inbound.stream, request_id=inbound.echoed_request_id
            ),
            body=body,
            stream=inbound.stream,
            model=sent_model,
            request_id=inbound.request_id,
        )
        if tap is not None:
            tap.routed(provider.name, provider.dialect, sent_model, translated=False)
        span.inject(call.headers)
        sent_at = time.perf_counter()
        return Outbound(provider, await provider.send(call), sent_at=sent_at)
    endpoint = inbound.route.endpoint
    if endpoint is Endpoint.ANTHROPIC_COUNT_TOKENS:
        if tap is not None:
            tap.routed(provider.name, provider.dialect, model, translated=True)
        return Outbound(provider, count_tokens_locally(body), translated=True, sent_at=time.perf_counter())
    if endpoint not in _TRANSLATABLE or provider.dialect == "any":
        raise UnsupportedFeature(
            f"{endpoint.value} requests cannot be served by provider {provider.name!r}, "
            f"which speaks the {provider.dialect} dialect"
        )
    client, target = codec_for(inbound.dialect), codec_for(provider.dialect)
    started = time.perf_counter()
    with inbound.span.translate():
        upstream_body, request = translate_request(
            client, target, body, model_name=model or inbound.model, default_max_tokens=default_max_tokens
        )
    metrics.translated(inbound.dialect, provider.dialect, time.perf_counter() - started)
    call = UpstreamCall(
        endpoint=target.endpoint,
        method="POST",
        path=target.path,
        query="",
        headers=translate_headers(
            forward_request_headers(inbound.headers, stream=True, request_id=inbound.echoed_request_id), client, target
        ),
        body=upstream_body,
        stream=inbound.stream,
        model=model or inbound.model,
        request_id=inbound.request_id,
    )
    if tap is not None:
        tap.routed(provider.name, provider.dialect, call.model, translated=True)
    span.inject(call.headers)
    sent_at = time.perf_counter()
    response = await provider.send(call)
    translated = TranslatedResponse(
        response, client=client, provider=target, stream=inbound.stream, include_usage=request.include_usage
    )
    return Outbound(provider, translated, translated=True, sent_at=sent_at)
