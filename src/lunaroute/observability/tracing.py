"""OpenTelemetry tracing: one SERVER span per request, with routing, translate and upstream children.

`Tracing` owns its own `TracerProvider` (the process-global one is never set) and exports through a
`BatchSpanProcessor`. Nothing of OpenTelemetry is imported until `Tracing.start()` runs with tracing enabled, so
a gateway without tracing neither pays the import nor the per-request cost: every call then goes to `NOOP_SPAN`,
whose methods do nothing.

The request path uses one small API, the same whether a span records or not::

    span = tracing.request_span("POST", "/v1/messages", headers, request_id=rid)   # continues `traceparent`
    span.set_request(model="claude-x")
    with span.routing():
        decision = router.decide(...)
    attempt = span.upstream("anthropic", system="anthropic", model="claude-x")
    span.inject(call.headers)                       # this attempt's `traceparent` for the provider
    ...
    attempt.end(response.status)                    # when the response is released (streams included)
    span.end(status)

A span that is not sampled still propagates its trace (W3C, sampled flag 0) but records nothing; with tracing
off, `inject` leaves the headers as they are.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self

from lunaroute import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from lunaroute.observability._otlp_spans import SpanFactory

__all__ = [
    "EXPORTERS",
    "NOOP_SPAN",
    "SAMPLERS",
    "AttributeValue",
    "Exporter",
    "Sampler",
    "SpanHandle",
    "Tracing",
    "TracingSettings",
]

Exporter = Literal["otlp_http", "otlp_grpc", "console", "none"]
Sampler = Literal["always_on", "always_off", "ratio", "parent_based_ratio"]
EXPORTERS: Final = ("otlp_http", "otlp_grpc", "console", "none")
SAMPLERS: Final = ("always_on", "always_off", "ratio", "parent_based_ratio")

AttributeValue = str | bool | int | float | Sequence[str]
"""What a span attribute may hold (a subset of OpenTelemetry's, enough for ours)."""


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """The `observability.tracing` config section.

    `endpoint`: for `otlp_http` a URL (`http://collector:4318` gets `/v1/traces` appended; a URL with a path is
    used as it is), default `http://localhost:4318/v1/traces`; for `otlp_grpc` `http://host:4317` (plaintext) or
    `https://host:4317` (TLS), default `http://localhost:4317`. `headers` go with every export (e.g. an API key).
    `sampler`: `ratio` samples `ratio` of the traces by trace id whatever the client decided;
    `parent_based_ratio` follows the client's `traceparent` sampled flag and samples `ratio` of new traces.
    `timeout_secs` bounds each export and the flush on shutdown. Raises ValueError for a value out of range.
    """

    enabled: bool = False
    exporter: Exporter = "otlp_http"
    endpoint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    service_name: str = "lunaroute"
    sampler: Sampler = "parent_based_ratio"
    ratio: float = 1.0
    timeout_secs: float = 10

    def __post_init__(self) -> None:
        if self.exporter not in EXPORTERS:
            raise ValueError(f"tracing exporter must be one of {', '.join(EXPORTERS)}, not {self.exporter!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"tracing sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}")
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError(f"tracing ratio must be between 0 and 1, not {self.ratio}")
        if not (self.timeout_secs > 0 and math.isfinite(self.timeout_secs)):
            raise ValueError(f"tracing timeout_secs must be a positive number, not {self.timeout_secs}")
        if not self.service_name:
            raise ValueError("tracing service_name must not be empty")


class SpanHandle:
    """One span of a request's trace. This base class is the no-op span: every method does nothing, cheaply.

    A handle is ended once (`end`, or leaving its `with` block; later calls are ignored). Children are started
    by `routing`, `translate` and `upstream` and must be ended by their caller. Attributes set after `end` are
    dropped. Handles are used from one task at a time; they are not thread-safe.
    """

    __slots__ = ()

    @property
    def recording(self) -> bool:
        """Whether this span is sampled and will be exported (False for the no-op and for sampled-out spans)."""
        return False

    def set_attribute(self, key: str, value: AttributeValue | None) -> None:
        """Set one attribute; None is ignored."""

    def set_request(self, *, model: str | None = None, request_id: str | None = None) -> None:
        """What the client asked: `gen_ai.request.model`, `lunaroute.request_id` (None values are skipped)."""

    def set_route(self, *, provider: str, route: str | None = None, translated: bool | None = None) -> None:
        """Where the request went: `lunaroute.provider`, `lunaroute.route` (the routing decision's reason or
        rule), `lunaroute.translated` (whether the body was translated to another dialect)."""

    def set_response(
        self,
        *,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        """What the model answered: `gen_ai.response.model`, `gen_ai.usage.input_tokens`,
        `gen_ai.usage.output_tokens`, `gen_ai.response.finish_reasons` (None values are skipped)."""

    def set_status(self, status_code: int) -> None:
        """`http.response.status_code`; marks the span as an error for a 5xx (request span) or a 4xx or 5xx
        (upstream span), as the HTTP semantic conventions say."""

    def record_error(self, error: BaseException) -> None:
        """Record `error` as an exception event, set `error.type` and the span status to ERROR."""

    def routing(self) -> SpanHandle:
        """Start the `routing` child span (end it, or use it as a context manager)."""
        return self

    def translate(self) -> SpanHandle:
        """Start the `translate` child span (end it, or use it as a context manager)."""
        return self

    def upstream(
        self, provider: str, *, system: str | None = None, model: str | None = None, operation: str | None = "chat"
    ) -> SpanHandle:
        """Start the CLIENT span `upstream {provider}` of one upstream attempt (each retry or fallback gets its
        own). `system` (`openai`, `anthropic`) becomes `gen_ai.system`, `model` `gen_ai.request.model`,
        `operation` `gen_ai.operation.name`. Until it ends it is this span's current attempt, which `inject`
        uses. End it when the upstream response is released, so that a stream's span covers the whole stream.
        """
        return self

    def inject(self, headers: list[tuple[str, str]]) -> None:
        """Replace `traceparent`/`tracestate` in `headers` (lower-cased pairs, changed in place) with this span's
        context, or its current attempt's. The no-op span leaves the headers untouched."""

    def end(self, status_code: int | None = None) -> None:
        """End the span, first setting `status_code` (see `set_status`) when given. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """End the span; an exception leaving the block is recorded on it first (a cancellation is marked
        `lunaroute.cancelled`, not as an error). The exception is not suppressed."""


NOOP_SPAN: Final = SpanHandle()
"""The span handed out when tracing is off: shared, stateless, free."""


class Tracing:
    """The tracer of one gateway instance, with its own provider and exporter.

    Built from settings without side effects; `start()` imports the SDK and creates the provider and the export
    thread (only when enabled); `shutdown()` (or `aclose()` from the event loop) flushes pending spans and stops.
    Before `start()` and after `shutdown()`, `request_span` returns `NOOP_SPAN`.
    `processor` replaces the exporter and its batch processor (tests pass an in-memory exporter in a
    `SimpleSpanProcessor`).
    """

    def __init__(self, settings: TracingSettings, *, processor: SpanProcessor | None = None) -> None:
        self.settings = settings
        self._processor = processor
        self._provider: TracerProvider | None = None
        self._spans: SpanFactory | None = None

    @property
    def enabled(self) -> bool:
        """Whether spans are being made now (enabled and started, not shut down)."""
        return self._spans is not None

    def start(self) -> None:
        """Create the provider, sampler, exporter and processor; nothing when disabled. Idempotent."""
        if not self.settings.enabled or self._provider is not None:
            return
        from lunaroute.observability import _otlp_sampling, _otlp_setup, _otlp_spans

        ids = _otlp_sampling.PresetIds()
        self._provider = _otlp_setup.build_provider(self.settings, self._processor, ids)
        tracer = self._provider.get_tracer("lunaroute", __version__)
        presampler = _otlp_sampling.Presampler(self.settings.sampler, self.settings.ratio)
        self._spans = _otlp_spans.SpanFactory(tracer, presampler, ids)

    def request_span(
        self, method: str, path: str, headers: Sequence[tuple[str, str]], *, request_id: str | None = None
    ) -> SpanHandle:
        """Start the SERVER span `{method} {path}` of one request, continuing the trace of the client's
        `traceparent`/`tracestate` (found in `headers`, `(name, value)` pairs, names in any case). Sets
        `http.request.method`, `url.path` and `lunaroute.request_id`. The sampler decides whether it records;
        `path` should be the route's path, not a URL with a query."""
        spans = self._spans
        if spans is None:
            return NOOP_SPAN
        return spans.request_span(method, path, headers, request_id)

    def force_flush(self, timeout_secs: float | None = None) -> bool:
        """Export every ended span now (blocking); False if that did not finish in time or tracing is off."""
        if self._provider is None:
            return False
        timeout = self.settings.timeout_secs if timeout_secs is None else timeout_secs
        return self._provider.force_flush(int(timeout * 1000))

    def shutdown(self) -> None:
        """Flush pending spans and stop the exporter. Blocking: the flush and the exporter's last send are each
        bounded by `timeout_secs`. Idempotent."""
        provider, self._provider, self._spans = self._provider, None, None
        if provider is None:
            return
        provider.force_flush(int(self.settings.timeout_secs * 1000))
        provider.shutdown()

    async def aclose(self) -> None:
        """`shutdown()` in a worker thread, so the event loop keeps serving while the spans are sent."""
        await asyncio.to_thread(self.shutdown)
