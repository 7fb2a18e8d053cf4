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
from lunaroute.responses import ResponseStore, continue_from
from lunaroute.routing import Route
from lunaroute.translate import (
    Codec,
    CountedResponse,
    ResponsesAnswer,
    TranslatedResponse,
    UpstreamCodec,
    codec_for,
    codec_for_endpoint,
    codec_for_provider,
    count_tokens_locally,
    serves_natively,
    translate_count_request,
    translate_headers,
    translate_request,
    upstream_codec_for,
)
from lunaroute.types import Dialect, Endpoint, Provider, UpstreamCall, UpstreamResponse

__all__ = ["CLIENT_GONE", "Inbound", "Outbound", "send_to"]

CLIENT_GONE = "client_disconnected"
"""`Outbound.ended`'s failure when the client left before the stream ended."""


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
    responses: ResponseStore | None = None,
) -> Outbound:
    """Send `body` (the client's, possibly with markers stripped) to `provider`.

    `model` is the provider's configured model (it replaces the client's) or None. An endpoint the provider
    serves natively (or a mock): the bytes go as they are, only `model` patched. Otherwise conversation endpoints
    (chat completions, messages, responses) are translated both ways into the provider's wire, `count_tokens` is
    answered with a local estimate, anything else is an `UnsupportedFeature` (400). A Responses request that
    names a `previous_response_id` is continued from `responses`, where the translated answer is kept.
    """
    endpoint = inbound.route.endpoint
    if serves_natively(provider, endpoint):
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
    if endpoint is Endpoint.ANTHROPIC_COUNT_TOKENS:
        counter = upstream_codec_for(provider.dialect) if provider.dialect != "any" else None
        if counter is not None and counter.encode_count_request is not None:
            return await _count_upstream(provider, inbound, body, counter, model=model, tap=tap, span=span)
        if tap is not None:
            tap.routed(provider.name, provider.dialect, model, translated=True)
        return Outbound(provider, count_tokens_locally(body), translated=True, sent_at=time.perf_counter())
    client = codec_for_endpoint(endpoint)
    if client is None:
        raise UnsupportedFeature(
            f"{endpoint.value} requests cannot be served by provider {provider.name!r}, "
            f"which speaks the {provider.dialect} dialect"
        )
    target = codec_for_provider(provider)
    answered: list[object] | None = None
    client_body = body
    if endpoint is Endpoint.OPENAI_RESPONSES:
        body, answered = await continue_from(responses, body)
    started = time.perf_counter()
    with inbound.span.translate():
        upstream_body, request = translate_request(
            client, target, body, model_name=model or inbound.model, default_max_tokens=default_max_tokens
        )
    metrics.translated(inbound.dialect, provider.dialect, time.perf_counter() - started)
    call = UpstreamCall(
        endpoint=target.endpoint or endpoint,
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
    return Outbound(
        provider,
        _answer(
            response, client, target, inbound, request.include_usage, client_body, answered, responses, call.model, tap
        ),
        translated=True,
        sent_at=sent_at,
    )


def _answer(
    response: UpstreamResponse,
    client: Codec,
    target: UpstreamCodec,
    inbound: Inbound,
    include_usage: bool,
    client_body: bytes,
    answered: list[object] | None,
    responses: ResponseStore | None,
    sent_model: str | None,
    tap: RecordingTap | None,
) -> TranslatedResponse:
    on_error = tap.upstream_error if tap is not None else None
    # A wire whose answers do not name their model (Converse): the answer names the model the client asked for.
    model_name = None if target.names_model else inbound.model or sent_model
    if client.endpoint is Endpoint.OPENAI_RESPONSES:
        return ResponsesAnswer(
            response,
            client=client,
            provider=target,
            stream=inbound.stream,
            request_body=client_body,
            input_items=answered,
            store=responses,
            model_name=model_name,
            on_error=on_error,
        )
    return TranslatedResponse(
        response,
        client=client,
        provider=target,
        stream=inbound.stream,
        include_usage=include_usage,
        model_name=model_name,
        on_error=on_error,
    )


async def _count_upstream(
    provider: Provider,
    inbound: Inbound,
    body: bytes,
    target: UpstreamCodec,
    *,
    model: str | None,
    tap: RecordingTap | None,
    span: SpanHandle,
) -> Outbound:
    """An Anthropic `count_tokens` request sent to a provider wire that counts tokens itself."""
    client = codec_for(inbound.dialect)
    sent_model = model or inbound.model
    call = UpstreamCall(
        endpoint=inbound.route.endpoint,
        method="POST",
        path=target.path,
        query="",
        headers=translate_headers(
            forward_request_headers(inbound.headers, stream=False, request_id=inbound.echoed_request_id), client, target
        ),
        body=translate_count_request(target, body, model_name=sent_model),
        stream=False,
        model=sent_model,
        request_id=inbound.request_id,
    )
    if tap is not None:
        tap.routed(provider.name, provider.dialect, sent_model, translated=True)
    span.inject(call.headers)
    sent_at = time.perf_counter()
    response = await provider.send(call)
    counted = CountedResponse(
        response, client=client, provider=target, on_error=tap.upstream_error if tap is not None else None
    )
    return Outbound(provider, counted, translated=True, sent_at=sent_at)
