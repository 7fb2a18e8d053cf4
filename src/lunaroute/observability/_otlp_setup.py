"""Build a `TracerProvider` from `TracingSettings`: resource, sampler, exporter and batch processor.

Imported only by `Tracing.start()`. Every exporter option is passed explicitly, so the `OTEL_*` environment
variables do not override the config (TLS client-certificate variables aside, which the exporters read when no
certificate is given).
"""

from __future__ import annotations

import importlib
import sys
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.sdk.version import __version__ as sdk_version

from lunaroute import __version__
from lunaroute.observability.tracing import TracingSettings

__all__ = ["build_provider", "http_traces_url"]

_DEFAULT_HTTP = "http://localhost:4318"
_DEFAULT_GRPC = "http://localhost:4317"


def build_provider(settings: TracingSettings, processor: SpanProcessor | None, ids: IdGenerator) -> TracerProvider:
    """A provider for `settings` making ids with `ids`; `processor` (if given) replaces the configured
    exporter's batch processor. The provider registers no exit hook: its owner shuts it down."""
    resource = Resource(
        {
            "service.name": settings.service_name,
            "service.version": __version__,
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": sdk_version,
        }
    )
    provider = TracerProvider(sampler=_sampler(settings), resource=resource, shutdown_on_exit=False, id_generator=ids)
    if processor is None:
        exporter = _exporter(settings)
        if exporter is not None:
            timeout_ms = settings.timeout_secs * 1000
            processor = BatchSpanProcessor(exporter, export_timeout_millis=timeout_ms)
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def _sampler(settings: TracingSettings) -> Sampler:
    match settings.sampler:
        case "always_on":
            return ALWAYS_ON
        case "always_off":
            return ALWAYS_OFF
        case "ratio":
            return TraceIdRatioBased(settings.ratio)
        case "parent_based_ratio":
            return ParentBased(TraceIdRatioBased(settings.ratio))


def http_traces_url(endpoint: str | None) -> str:
    """The OTLP/HTTP traces URL for `endpoint`: `/v1/traces` is appended to a URL without a path."""
    url = endpoint or _DEFAULT_HTTP
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + "/v1/traces"
    return url


def _exporter(settings: TracingSettings) -> SpanExporter | None:
    match settings.exporter:
        case "otlp_http":
            from opentelemetry.exporter.otlp.proto.http import Compression
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(
                endpoint=http_traces_url(settings.endpoint),
                headers=dict(settings.headers),
                timeout=settings.timeout_secs,
                compression=Compression.NoCompression,
            )
        case "otlp_grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

            # grpc ships no type stubs; its enum is looked up rather than imported.
            no_compression = importlib.import_module("grpc").Compression.NoCompression

            endpoint = settings.endpoint or _DEFAULT_GRPC
            return GrpcSpanExporter(
                endpoint=endpoint,
                insecure=urlsplit(endpoint).scheme != "https",
                # gRPC metadata keys must be lower-case.
                headers=tuple((name.lower(), value) for name, value in settings.headers.items()),
                timeout=settings.timeout_secs,
                compression=no_compression,
            )
        case "console":
            # `sys.stdout` as it is now (the exporter's default is the one at its import).
            return ConsoleSpanExporter(service_name=settings.service_name, out=sys.stdout)
        case "none":
            return None
