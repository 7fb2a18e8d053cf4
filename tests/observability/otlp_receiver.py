"""Small OTLP trace receivers on loopback ports that keep the spans they are sent: OTLP/HTTP (`POST /v1/traces`,
protobuf) and OTLP/gRPC (`TraceService/Export`)."""

from __future__ import annotations

import asyncio
import gzip
import socket
from dataclasses import dataclass, field
from typing import Any

import grpc  # type: ignore[import-untyped]
from aiohttp import web
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["OtlpGrpcReceiver", "OtlpReceiver", "ReceivedSpan"]

_PROTOBUF = "application/x-protobuf"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None if kind is None else getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, decoded: ids in lower-case hex (`parent_span_id` empty for a root), `kind` and
    `status_code` as the OTLP enum numbers (kind 1 internal, 2 server, 3 client; status 0 unset, 2 error)."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int
    events: tuple[str, ...]
    resource: dict[str, Any]
    scope: str


def _decode(message: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans = []
    for resource_spans in message.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes=_attributes(span.attributes),
                        status_code=span.status.code,
                        events=tuple(event.name for event in span.events),
                        resource=resource,
                        scope=scope_spans.scope.name,
                    )
                )
    return spans


@dataclass
class OtlpReceiver:
    """`async with OtlpReceiver() as rx:` serves on 127.0.0.1 at an ephemeral port; `rx.url` is its base URL.

    `spans` holds every span received, in order; `headers` the headers of every export request."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> OtlpReceiver:
        app = web.Application()
        app.router.add_post("/v1/traces", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedSpan]:
        """The spans once at least `count` arrived; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while len(self.spans) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.spans

    async def _handle(self, request: web.Request) -> web.Response:
        if request.content_type != _PROTOBUF:
            return web.Response(status=415, text=f"expected {_PROTOBUF}")
        body = await request.read()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.headers.append({name.lower(): value for name, value in request.headers.items()})
        self.spans.extend(_decode(message))
        self._arrived.set()
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type=_PROTOBUF)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpGrpcReceiver) -> None:
        self._receiver = receiver

    async def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:
        self._receiver.headers.append(dict(context.invocation_metadata()))
        self._receiver.spans.extend(_decode(request))
        self._receiver._arrived.set()
        return ExportTraceServiceResponse()


@dataclass
class OtlpGrpcReceiver:
    """`async with OtlpGrpcReceiver() as rx:` serves OTLP/gRPC (plaintext) on 127.0.0.1 at an ephemeral port;
    `rx.url` is `http://127.0.0.1:<port>`. `spans` and `headers` (the call metadata) as `OtlpReceiver`'s."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _server: Any = None
    _port: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> OtlpGrpcReceiver:
        self._server = grpc.aio.server()
        add_servicer = trace_service_pb2_grpc.add_TraceServiceServicer_to_server
        add_servicer(_TraceService(self), self._server)  # type: ignore[no-untyped-call]
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.stop(None)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedSpan]:
        """The spans once at least `count` arrived; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while len(self.spans) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.spans
