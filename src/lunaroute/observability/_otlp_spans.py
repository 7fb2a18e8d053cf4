"""The OpenTelemetry side of `SpanHandle`: recording and sampled-out spans, and W3C trace-context propagation.

Imported only by `Tracing.start()` when tracing is enabled. The parent of every span is passed explicitly; the
OpenTelemetry "current context" (a context variable) is never attached, so streams that outlive the handler's
task and concurrent requests cannot leak spans into each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Final

from opentelemetry.context import Context
from opentelemetry.trace import (
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lunaroute.observability._otlp_sampling import Presampler, PresetIds
from lunaroute.observability._otlp_w3c import (
    RANDOM_TRACE_ID,
    SAMPLED,
    TRACEPARENT,
    TRACESTATE,
    TraceHeaders,
    find_trace_headers,
    format_traceparent,
    parse_traceparent,
    replace_trace_headers,
)
from lunaroute.observability.tracing import AttributeValue, SpanHandle

__all__ = ["SpanFactory"]

# Semantic-convention attribute names (HTTP, GenAI) and ours.
HTTP_METHOD: Final = "http.request.method"
URL_PATH: Final = "url.path"
HTTP_STATUS: Final = "http.response.status_code"
ERROR_TYPE: Final = "error.type"
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_OPERATION: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
PROVIDER: Final = "lunaroute.provider"
ROUTE: Final = "lunaroute.route"
REQUEST_ID: Final = "lunaroute.request_id"
TRANSLATED: Final = "lunaroute.translated"
CANCELLED: Final = "lunaroute.cancelled"

_PROPAGATOR: Final = TraceContextTextMapPropagator()


def _extract(found: TraceHeaders) -> Context:
    carrier = {TRACEPARENT: [found.traceparent]}
    if found.tracestate:
        carrier[TRACESTATE] = found.tracestate
    return _PROPAGATOR.extract(carrier)


def _inject(span: Span, headers: list[tuple[str, str]]) -> None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=set_span_in_context(span))
    replace_trace_headers(headers, carrier[TRACEPARENT], carrier.get(TRACESTATE))


def _error_type(error: BaseException) -> str:
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class SpanFactory:
    """Starts request spans on one tracer; a request whose trace is not sampled never reaches the SDK."""

    __slots__ = ("_ids", "_presampler", "_tracer")

    def __init__(self, tracer: Tracer, presampler: Presampler, ids: PresetIds) -> None:
        self._tracer = tracer
        self._presampler = presampler
        self._ids = ids

    def request_span(
        self, method: str, path: str, headers: Sequence[tuple[str, str]], request_id: str | None
    ) -> SpanHandle:
        """See `Tracing.request_span`."""
        found = find_trace_headers(headers)
        parent: Context | None = None
        flags: int | None = None
        parsed = parse_traceparent(found.traceparent) if found is not None else None
        if parsed is not None:
            trace_id, flags = parsed
        elif found is not None:
            # Not the plain version-00 form: the propagator decides what it means.
            parent = _extract(found)
            remote = get_current_span(parent).get_span_context()
            if remote.is_valid:
                trace_id, flags = remote.trace_id, int(remote.trace_flags)
            else:
                found = parent = None
        if found is None:
            trace_id = self._ids.generate_trace_id()
        if not self._presampler.sampled(trace_id, None if flags is None else bool(flags & SAMPLED)):
            # As the SDK: a new trace id is random; a continued one is as random as the client said.
            random = RANDOM_TRACE_ID if flags is None else flags & RANDOM_TRACE_ID
            tracestate = ",".join(found.tracestate) if found is not None and found.tracestate else None
            return _UnsampledSpan(trace_id, random, tracestate, self._ids)
        attributes: dict[str, AttributeValue] = {HTTP_METHOD: method, URL_PATH: path}
        if request_id is not None:
            attributes[REQUEST_ID] = request_id
        if found is None:
            self._ids.preset(trace_id)
        elif parent is None:
            parent = _extract(found)
        span = self._tracer.start_span(f"{method} {path}", context=parent, kind=SpanKind.SERVER, attributes=attributes)
        return _RecordingSpan(span, self._tracer, None, error_from=500)


class _UnsampledSpan(SpanHandle):
    """A sampled-out request: records nothing and has no children, but hands its trace on (sampled flag 0,
    the client's `tracestate` as it came) with a span id of its own, drawn on the first `inject`."""

    __slots__ = ("_flags", "_ids", "_span_id", "_trace_id", "_tracestate")

    def __init__(self, trace_id: int, flags: int, tracestate: str | None, ids: PresetIds) -> None:
        self._trace_id = trace_id
        self._flags = flags
        self._tracestate = tracestate
        self._ids = ids
        self._span_id = 0

    def inject(self, headers: list[tuple[str, str]]) -> None:
        if not self._span_id:
            self._span_id = self._ids.generate_span_id()
        traceparent = format_traceparent(self._trace_id, self._span_id, self._flags)
        replace_trace_headers(headers, traceparent, self._tracestate)


class _RecordingSpan(SpanHandle):
    """A sampled span; see `SpanHandle` for each method's contract."""

    __slots__ = ("_attempt", "_context", "_ended", "_error_from", "_failed", "_parent", "_span", "_tracer")

    def __init__(self, span: Span, tracer: Tracer, parent: _RecordingSpan | None, *, error_from: int) -> None:
        self._span = span
        self._tracer = tracer
        self._parent = parent
        self._error_from = error_from
        self._context: Context | None = None
        self._attempt: _RecordingSpan | None = None
        self._ended = False
        self._failed = False

    @property
    def recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: AttributeValue | None) -> None:
        # Checked here rather than left to the SDK, which logs a warning for each late attribute.
        if value is not None and not self._ended:
            self._span.set_attribute(key, value)

    def set_request(self, *, model: str | None = None, request_id: str | None = None) -> None:
        self.set_attribute(GEN_AI_REQUEST_MODEL, model)
        self.set_attribute(REQUEST_ID, request_id)

    def set_route(self, *, provider: str, route: str | None = None, translated: bool | None = None) -> None:
        self.set_attribute(PROVIDER, provider)
        self.set_attribute(ROUTE, route)
        self.set_attribute(TRANSLATED, translated)

    def set_response(
        self,
        *,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        self.set_attribute(GEN_AI_RESPONSE_MODEL, model)
        self.set_attribute(GEN_AI_INPUT_TOKENS, input_tokens)
        self.set_attribute(GEN_AI_OUTPUT_TOKENS, output_tokens)
        if finish_reasons is not None:
            self.set_attribute(GEN_AI_FINISH_REASONS, list(finish_reasons))

    def set_status(self, status_code: int) -> None:
        if self._ended:
            return
        self._span.set_attribute(HTTP_STATUS, status_code)
        if status_code >= self._error_from and not self._failed:
            self._failed = True
            # HTTP conventions: no description for a status-derived error; `error.type` is the status code.
            self._span.set_attribute(ERROR_TYPE, str(status_code))
            self._span.set_status(Status(StatusCode.ERROR))

    def record_error(self, error: BaseException) -> None:
        if self._ended:
            return
        # A recorded exception says more than a status code: it wins over `set_status`, before or after.
        self._failed = True
        self._span.record_exception(error)
        self._span.set_attribute(ERROR_TYPE, _error_type(error))
        self._span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__name__))

    def _child(self, name: str, kind: SpanKind, attributes: dict[str, AttributeValue]) -> _RecordingSpan:
        if self._context is None:
            self._context = set_span_in_context(self._span)
        span = self._tracer.start_span(name, context=self._context, kind=kind, attributes=attributes)
        # The request span was sampled, and so is every child: each sampler here decides alike for one trace.
        return _RecordingSpan(span, self._tracer, self, error_from=400 if kind is SpanKind.CLIENT else 500)

    def routing(self) -> SpanHandle:
        return self._child("routing", SpanKind.INTERNAL, {})

    def translate(self) -> SpanHandle:
        return self._child("translate", SpanKind.INTERNAL, {})

    def upstream(
        self, provider: str, *, system: str | None = None, model: str | None = None, operation: str | None = "chat"
    ) -> SpanHandle:
        attributes: dict[str, AttributeValue] = {PROVIDER: provider}
        if system is not None:
            attributes[GEN_AI_SYSTEM] = system
        if operation is not None:
            attributes[GEN_AI_OPERATION] = operation
        if model is not None:
            attributes[GEN_AI_REQUEST_MODEL] = model
        self._attempt = self._child(f"upstream {provider}", SpanKind.CLIENT, attributes)
        return self._attempt

    def inject(self, headers: list[tuple[str, str]]) -> None:
        attempt = self._attempt
        _inject(attempt._span if attempt is not None else self._span, headers)

    def end(self, status_code: int | None = None) -> None:
        if self._ended:
            return
        if status_code is not None:
            self.set_status(status_code)
        self._ended = True
        self._span.end()
        parent = self._parent
        if parent is not None and parent._attempt is self:
            parent._attempt = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, asyncio.CancelledError):
            self.set_attribute(CANCELLED, True)
        elif exc is not None:
            self.record_error(exc)
        self.end()
