"""Tracing: span tree, attributes, W3C propagation both ways, samplers, errors, and export over OTLP/HTTP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode
from tests.observability.otlp_receiver import OtlpGrpcReceiver, OtlpReceiver, ReceivedSpan

from lunaroute.errors import UpstreamError
from lunaroute.observability._otlp_setup import http_traces_url
from lunaroute.observability._otlp_w3c import parse_traceparent
from lunaroute.observability.tracing import NOOP_SPAN, Sampler, SpanHandle, Tracing, TracingSettings

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
HEADERS = [("content-type", "application/json"), ("x-api-key", "sk-test"), ("anthropic-version", "2023-06-01")]


def traceparent(sampled: bool, trace_id: str = CLIENT_TRACE) -> str:
    return f"00-{trace_id}-{CLIENT_SPAN}-{'01' if sampled else '00'}"


def client_headers(sampled: bool, tracestate: str | None = "vendor=abc") -> list[tuple[str, str]]:
    headers = [*HEADERS, ("traceparent", traceparent(sampled))]
    if tracestate is not None:
        headers.append(("tracestate", tracestate))
    return headers


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key == name]


MakeTracing = Callable[..., tuple[Tracing, InMemorySpanExporter]]


@pytest.fixture
def make_tracing() -> Iterator[MakeTracing]:
    started: list[Tracing] = []

    def factory(sampler: Sampler = "always_on", ratio: float = 1.0) -> tuple[Tracing, InMemorySpanExporter]:
        exporter = InMemorySpanExporter()
        settings = TracingSettings(enabled=True, exporter="none", sampler=sampler, ratio=ratio, service_name="gw")
        tracing = Tracing(settings, processor=SimpleSpanProcessor(exporter))
        tracing.start()
        started.append(tracing)
        return tracing, exporter

    yield factory
    for tracing in started:
        tracing.shutdown()


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def one_request(tracing: Tracing, headers: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """A request through routing, translation and one upstream attempt; returns the upstream headers."""
    span = tracing.request_span("POST", "/v1/messages", headers or HEADERS, request_id="req-1")
    span.set_request(model="claude-sonnet")
    with span.routing():
        pass
    with span.translate():
        pass
    attempt = span.upstream("openai-main", system="openai", model="gpt-4o")
    upstream = [*HEADERS, *(headers or [])]
    span.inject(upstream)
    attempt.set_response(model="gpt-4o-2024", input_tokens=12, output_tokens=34, finish_reasons=["stop"])
    attempt.end(200)
    span.set_route(provider="openai-main", route="rule:gpt", translated=True)
    span.set_response(model="gpt-4o-2024", input_tokens=12, output_tokens=34, finish_reasons=["stop"])
    span.end(200)
    return upstream


# -- off ------------------------------------------------------------------------------------------------------


def test_disabled_tracing_hands_out_the_noop_span() -> None:
    tracing = Tracing(TracingSettings(enabled=False))
    tracing.start()
    span = tracing.request_span("POST", "/v1/messages", client_headers(True))
    assert span is NOOP_SPAN
    assert not tracing.enabled
    assert not span.recording
    assert span.routing() is NOOP_SPAN
    assert span.upstream("p", system="openai") is NOOP_SPAN
    headers = client_headers(True)
    span.inject(headers)
    assert headers == client_headers(True), "with tracing off the client's headers pass unchanged"
    with pytest.raises(ValueError, match="boom"), span.translate():
        raise ValueError("boom")
    span.end(500)
    tracing.shutdown()


def test_enabled_but_not_started_is_noop() -> None:
    tracing = Tracing(TracingSettings(enabled=True, exporter="none"))
    assert tracing.request_span("GET", "/v1/models", []) is NOOP_SPAN
    assert not tracing.force_flush()


def test_importing_tracing_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, lunaroute.observability.tracing as t\n"
        "t.Tracing(t.TracingSettings()).start()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'grpc', 'google'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ratio": 1.5}, "ratio"),
        ({"ratio": -0.1}, "ratio"),
        ({"exporter": "zipkin"}, "exporter"),
        ({"sampler": "sometimes"}, "sampler"),
        ({"timeout_secs": 0}, "timeout_secs"),
        ({"service_name": ""}, "service_name"),
    ],
)
def test_settings_reject_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TracingSettings(**changes)  # type: ignore[arg-type]


# -- the span tree and its attributes -------------------------------------------------------------------------


def test_span_tree_server_with_routing_translate_and_upstream_children(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    one_request(tracing)
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"POST /v1/messages", "routing", "translate", "upstream openai-main"}
    server = spans["POST /v1/messages"]
    assert server.kind is SpanKind.SERVER
    assert server.parent is None
    assert spans["upstream openai-main"].kind is SpanKind.CLIENT
    for name in ("routing", "translate", "upstream openai-main"):
        child = spans[name]
        assert child.parent is not None
        assert child.parent.span_id == server.context.span_id
        assert child.context.trace_id == server.context.trace_id
    assert spans["routing"].kind is SpanKind.INTERNAL


def test_attributes_follow_the_http_and_genai_conventions(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    one_request(tracing)
    spans = by_name(exporter.get_finished_spans())
    server = dict(spans["POST /v1/messages"].attributes or {})
    assert server == {
        "http.request.method": "POST",
        "url.path": "/v1/messages",
        "lunaroute.request_id": "req-1",
        "gen_ai.request.model": "claude-sonnet",
        "lunaroute.provider": "openai-main",
        "lunaroute.route": "rule:gpt",
        "lunaroute.translated": True,
        "gen_ai.response.model": "gpt-4o-2024",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
        "gen_ai.response.finish_reasons": ("stop",),
        "http.response.status_code": 200,
    }
    upstream = dict(spans["upstream openai-main"].attributes or {})
    assert upstream == {
        "lunaroute.provider": "openai-main",
        "gen_ai.system": "openai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
        "gen_ai.response.finish_reasons": ("stop",),
        "http.response.status_code": 200,
    }
    assert spans["POST /v1/messages"].status.status_code is StatusCode.UNSET
    resource = spans["routing"].resource.attributes
    assert resource["service.name"] == "gw"


def test_none_values_are_skipped_and_end_is_idempotent(
    make_tracing: MakeTracing, caplog: pytest.LogCaptureFixture
) -> None:
    tracing, exporter = make_tracing()
    span = tracing.request_span("GET", "/v1/models", [])
    span.set_request(model=None)
    span.set_attribute("custom", None)
    span.set_response(input_tokens=None)
    span.end(200)
    span.end(500)
    span.set_attribute("late", "dropped")
    span.record_error(RuntimeError("late"))
    assert caplog.records == [], "nothing to warn about"
    (finished,) = exporter.get_finished_spans()
    assert dict(finished.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/v1/models",
        "http.response.status_code": 200,
    }


# -- propagation ----------------------------------------------------------------------------------------------


def test_request_span_continues_the_clients_trace(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing(sampler="parent_based_ratio", ratio=0.0)
    upstream = one_request(tracing, client_headers(True))
    server = by_name(exporter.get_finished_spans())["POST /v1/messages"]
    assert f"{server.context.trace_id:032x}" == CLIENT_TRACE
    assert server.parent is not None
    assert server.parent.is_remote
    assert f"{server.parent.span_id:016x}" == CLIENT_SPAN
    assert header(upstream, "tracestate") == ["vendor=abc"]


def test_header_names_are_matched_in_any_case(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    span = tracing.request_span("POST", "/v1/chat/completions", [("TraceParent", traceparent(True))])
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert f"{finished.context.trace_id:032x}" == CLIENT_TRACE


def test_inject_gives_the_current_attempts_context(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    span = tracing.request_span("POST", "/v1/messages", client_headers(True))
    first = span.upstream("a", system="anthropic")
    forwarded = client_headers(True)  # the client's own trace headers, forwarded as they came
    span.inject(forwarded)
    first.end(503)
    second = span.upstream("b", system="openai")
    retried = client_headers(True)
    span.inject(retried)
    second.end(200)
    after = list(HEADERS)
    span.inject(after)
    span.end(200)
    spans = by_name(exporter.get_finished_spans())
    for headers, owner in ((forwarded, "upstream a"), (retried, "upstream b"), (after, "POST /v1/messages")):
        context = spans[owner].context
        assert header(headers, "traceparent") == [f"00-{context.trace_id:032x}-{context.span_id:016x}-01"], (
            "the client's flags (sampled, not random) carry on"
        )
    assert header(forwarded, "tracestate") == ["vendor=abc"]
    assert header(after, "tracestate") == ["vendor=abc"]
    assert ("x-api-key", "sk-test") in after


def test_attempt_span_injects_itself(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    span = tracing.request_span("POST", "/v1/messages", [])
    attempt = span.upstream("a")
    headers: list[tuple[str, str]] = []
    attempt.inject(headers)
    attempt.end()
    span.end()
    context = by_name(exporter.get_finished_spans())["upstream a"].context
    # A new trace: sampled, and its id random (W3C level 2).
    assert headers == [("traceparent", f"00-{context.trace_id:032x}-{context.span_id:016x}-03")]


@pytest.mark.parametrize(
    "value",
    [
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        f"00-{CLIENT_TRACE}-0000000000000000-01",
        f"00-{CLIENT_TRACE.upper()}-{CLIENT_SPAN}-01",
        "ff-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01",
        "garbage",
    ],
)
def test_invalid_traceparent_starts_a_new_trace(make_tracing: MakeTracing, value: str) -> None:
    tracing, exporter = make_tracing(sampler="parent_based_ratio")
    span = tracing.request_span("POST", "/v1/messages", [("traceparent", value), ("tracestate", "k=v")])
    headers: list[tuple[str, str]] = []
    span.inject(headers)
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert finished.parent is None
    assert f"{finished.context.trace_id:032x}" != CLIENT_TRACE
    assert header(headers, "tracestate") == []


def test_a_later_traceparent_version_is_read_by_the_propagator(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing(sampler="parent_based_ratio", ratio=0.0)
    span = tracing.request_span("POST", "/v1/messages", [("traceparent", f"01-{CLIENT_TRACE}-{CLIENT_SPAN}-01-extra")])
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert f"{finished.context.trace_id:032x}" == CLIENT_TRACE


def test_parse_traceparent_reads_only_the_strict_version_00_form() -> None:
    assert parse_traceparent(traceparent(True)) == (int(CLIENT_TRACE, 16), 1)
    assert parse_traceparent(traceparent(False)) == (int(CLIENT_TRACE, 16), 0)
    assert parse_traceparent(f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-03") == (int(CLIENT_TRACE, 16), 3)
    assert parse_traceparent(f" {traceparent(True)}") is None
    assert parse_traceparent(f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01-x") is None


# -- samplers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sampler", "ratio", "parent", "recorded"),
    [
        ("always_on", 1.0, None, True),
        ("always_on", 1.0, False, True),
        ("always_off", 1.0, None, False),
        ("always_off", 1.0, True, False),
        ("ratio", 0.0, None, False),
        ("ratio", 0.0, True, False),
        ("ratio", 1.0, None, True),
        ("ratio", 1.0, False, True),
        ("parent_based_ratio", 1.0, None, True),
        ("parent_based_ratio", 0.0, None, False),
        ("parent_based_ratio", 1.0, False, False),
        ("parent_based_ratio", 0.0, True, True),
    ],
)
def test_samplers(
    make_tracing: MakeTracing, sampler: Sampler, ratio: float, parent: bool | None, recorded: bool
) -> None:
    tracing, exporter = make_tracing(sampler=sampler, ratio=ratio)
    headers = list(HEADERS) if parent is None else client_headers(parent)
    span = tracing.request_span("POST", "/v1/messages", headers)
    assert span.recording is recorded
    upstream = one_request(tracing, headers)
    assert len(exporter.get_finished_spans()) == (4 if recorded else 0)
    # Recorded or not, the upstream call carries this gateway's place in the trace.
    (sent,) = header(upstream, "traceparent")
    version, trace_id, span_id, flags = sent.split("-")
    assert version == "00"
    assert int(flags, 16) & 1 == recorded
    assert int(flags, 16) & 2 == (2 if parent is None else 0), "random trace id flag: ours, or the client's"
    if parent is not None:
        assert trace_id == CLIENT_TRACE
        assert header(upstream, "tracestate") == ["vendor=abc"]
    assert span_id != CLIENT_SPAN
    span.end()


def test_sampled_out_requests_have_no_children_and_cost_no_spans(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing(sampler="always_off")
    span = tracing.request_span("POST", "/v1/messages", [])
    child = span.upstream("p", system="openai")
    assert not child.recording
    first: list[tuple[str, str]] = []
    again: list[tuple[str, str]] = [("traceparent", "stale")]
    span.inject(first)
    span.inject(again)
    assert first == again, "one sampled-out span keeps one span id"
    with pytest.raises(UpstreamError), child:
        raise UpstreamError("down")
    span.end(500)
    assert exporter.get_finished_spans() == ()


def test_ratio_decides_on_the_trace_id_like_the_sdk(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing(sampler="ratio", ratio=0.5)
    bound = TraceIdRatioBased(0.5).bound
    low = f"{0:016x}{bound - 1:016x}"
    high = f"{0:016x}{bound:016x}"
    for trace_id, expected in ((low, True), (high, False)):
        headers = [("traceparent", f"00-{'1' + trace_id[1:]}-{CLIENT_SPAN}-00")]
        assert tracing.request_span("POST", "/v1/messages", headers).recording is expected
    roots = [tracing.request_span("POST", "/v1/messages", []) for _ in range(400)]
    for span in roots:
        span.end()
    recorded = exporter.get_finished_spans()
    assert 100 < len(recorded) < 300
    # A root's decision was made on the trace id it is exported with, so other services decide alike.
    assert all(span.context.trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound for span in recorded)


# -- errors ---------------------------------------------------------------------------------------------------


def test_errors_are_recorded_on_spans(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    span = tracing.request_span("POST", "/v1/messages", [])
    with pytest.raises(UpstreamError), span.upstream("a", system="anthropic"):
        raise UpstreamError("connection refused")
    span.upstream("b").end(429)
    span.record_error(RuntimeError("gateway broke"))
    span.end(502)
    spans = by_name(exporter.get_finished_spans())
    failed = spans["upstream a"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "connection refused"
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "lunaroute.errors.UpstreamError"
    assert [event.name for event in failed.events] == ["exception"]
    assert failed.events[0].attributes is not None
    assert failed.events[0].attributes["exception.message"] == "connection refused"
    refused = spans["upstream b"]
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes is not None
    assert refused.attributes["error.type"] == "429"
    server = spans["POST /v1/messages"]
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes is not None
    assert server.attributes["error.type"] == "RuntimeError"
    assert server.attributes["http.response.status_code"] == 502


def test_client_errors_are_not_server_span_errors(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    tracing.request_span("POST", "/v1/messages", []).end(404)
    (server,) = exporter.get_finished_spans()
    assert server.status.status_code is StatusCode.UNSET


async def test_cancellation_is_marked_not_an_error(make_tracing: MakeTracing) -> None:
    tracing, exporter = make_tracing()
    span = tracing.request_span("POST", "/v1/messages", [])

    async def upstream_call() -> None:
        with span.upstream("slow"):
            await asyncio.sleep(60)

    task = asyncio.create_task(upstream_call())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span.end(499)
    spans = by_name(exporter.get_finished_spans())
    cancelled = spans["upstream slow"]
    assert cancelled.attributes is not None
    assert cancelled.attributes["lunaroute.cancelled"] is True
    assert cancelled.status.status_code is StatusCode.UNSET
    assert cancelled.events == ()


# -- lifecycle and exporters ----------------------------------------------------------------------------------


def test_shutdown_is_idempotent_and_turns_tracing_off(make_tracing: MakeTracing) -> None:
    tracing, _ = make_tracing()
    assert tracing.enabled
    tracing.shutdown()
    tracing.shutdown()
    assert not tracing.enabled
    assert tracing.request_span("GET", "/v1/models", []) is NOOP_SPAN


def test_console_exporter_writes_spans_on_shutdown(capsys: pytest.CaptureFixture[str]) -> None:
    tracing = Tracing(TracingSettings(enabled=True, exporter="console"))
    tracing.start()
    tracing.request_span("POST", "/v1/messages", []).end(200)
    tracing.shutdown()
    out = capsys.readouterr().out
    assert '"name": "POST /v1/messages"' in out
    assert '"service.name": "lunaroute"' in out


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        (None, "http://localhost:4318/v1/traces"),
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://otel.example/custom/traces", "https://otel.example/custom/traces"),
    ],
)
def test_http_traces_url(endpoint: str | None, url: str) -> None:
    assert http_traces_url(endpoint) == url


def check_exported(spans: list[ReceivedSpan]) -> None:
    assert len(spans) == 4
    named = {span.name: span for span in spans}
    server = named["POST /v1/messages"]
    assert server.kind == 2
    assert server.trace_id == CLIENT_TRACE
    assert server.parent_span_id == CLIENT_SPAN
    assert server.attributes["gen_ai.usage.output_tokens"] == 34
    assert server.attributes["lunaroute.translated"] is True
    assert server.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    upstream = named["upstream openai-main"]
    assert upstream.kind == 3
    assert upstream.parent_span_id == server.span_id
    assert upstream.attributes["gen_ai.system"] == "openai"
    assert upstream.attributes["http.response.status_code"] == 200
    assert {span.parent_span_id for span in spans if span is not server} == {server.span_id}
    assert server.resource["service.name"] == "lunaroute-test"
    assert server.scope == "lunaroute"


async def test_exports_over_otlp_http_to_a_real_receiver() -> None:
    async with OtlpReceiver() as receiver:
        settings = TracingSettings(
            enabled=True,
            exporter="otlp_http",
            endpoint=receiver.url,
            headers={"Authorization": "Bearer collector-key"},
            service_name="lunaroute-test",
            sampler="always_on",
            timeout_secs=5,
        )
        tracing = Tracing(settings)
        tracing.start()
        one_request(tracing, client_headers(True))
        await tracing.aclose()
        check_exported(await receiver.wait_for(4))
    assert receiver.headers[0]["authorization"] == "Bearer collector-key"
    assert receiver.headers[0]["content-type"] == "application/x-protobuf"


async def test_exports_over_otlp_grpc_to_a_real_receiver() -> None:
    async with OtlpGrpcReceiver() as receiver:
        settings = TracingSettings(
            enabled=True,
            exporter="otlp_grpc",
            endpoint=receiver.url,
            headers={"X-Api-Key": "collector-key"},
            service_name="lunaroute-test",
            timeout_secs=5,
        )
        tracing = Tracing(settings)
        tracing.start()
        one_request(tracing, client_headers(True))
        await tracing.aclose()
        check_exported(await receiver.wait_for(4))
    assert receiver.headers[0]["x-api-key"] == "collector-key"


def test_handle_api_is_the_same_on_every_span_kind() -> None:
    """The request path may call any method on any handle; the no-op base defines them all."""
    from lunaroute.observability import _otlp_spans

    public = {name for name in vars(SpanHandle) if not name.startswith("_")}
    for cls in (_otlp_spans._RecordingSpan, _otlp_spans._UnsampledSpan):
        assert issubclass(cls, SpanHandle)
        assert public <= set(dir(cls))


async def test_shutdown_is_bounded_when_the_collector_is_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings = TracingSettings(enabled=True, endpoint=f"http://127.0.0.1:{closed_port}", timeout_secs=0.5)
    tracing = Tracing(settings)
    tracing.start()
    one_request(tracing)
    started = time.monotonic()
    await tracing.aclose()
    assert time.monotonic() - started < 3.0
    assert not tracing.enabled
