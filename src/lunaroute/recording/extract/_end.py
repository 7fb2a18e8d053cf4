"""The events recorded when an exchange ends: `stream_started`, `response_recorded`, tool calls, `completed`."""

from __future__ import annotations

import msgspec

from lunaroute.model import RefusalBlock, Response, TextBlock, ToolUseBlock, Usage
from lunaroute.recording.events import (
    AttemptStats,
    Completed,
    Outcome,
    ResponseRecorded,
    SessionEvent,
    StreamStarted,
    ToolCallRecorded,
    ToolCallStats,
    ToolStats,
)
from lunaroute.recording.pricing import estimate_cost
from lunaroute.types import ExchangeRecord

from ._facts import RequestFacts, read_facts
from ._response import ParsedResponse, parse_response
from ._start import tool_result_events
from ._stats import Timings, estimate_input, estimate_output, instant, streaming_stats, timings, token_stats
from ._tracker import SessionTracker

__all__ = ["events_at_end"]


def _arguments(block: ToolUseBlock) -> str:
    return block.raw_arguments if block.raw_arguments is not None else msgspec.json.encode(block.input).decode()


def _usage(
    record: ExchangeRecord, facts: RequestFacts, parsed: ParsedResponse, response: Response
) -> tuple[Usage, bool]:
    """The response's usage, or an estimate (flagged) where it was not reported.

    No usage at all (an OpenAI stream without `include_usage`): both sides are estimated. A stream cut
    short: its output count is whatever the last report said, so the output estimate is used when larger.
    """
    usage = response.usage
    reported = usage.total_input_tokens + usage.output_tokens > 0
    if reported and not parsed.cut_short:
        return usage, False
    output = estimate_output(response)
    if not reported:
        estimated = facts.estimated_input
        if estimated is None:
            estimated = estimate_input(record, facts.view)
        return Usage(input_tokens=estimated, output_tokens=output), True
    if output > usage.output_tokens:
        return msgspec.structs.replace(usage, output_tokens=output), True
    return usage, False


def _outcome(record: ExchangeRecord) -> Outcome | None:
    if record.outcome is not None:
        return record.outcome
    if record.status is None:
        return None
    return "ok" if record.status < 400 else "upstream_error"


def _errors(record: ExchangeRecord, parsed: ParsedResponse, outcome: Outcome | None) -> tuple[bool, str | None]:
    """Whether the exchange succeeded, and every note about what went wrong (or is partial)."""
    notes = [text for text in (record.error, parsed.error) if text]
    if record.response_truncated:
        notes.append("response copy truncated by the recorder: recorded content, usage and finish are partial")
    elif parsed.cut_short and outcome in ("ok", None):
        notes.append("stream ended before its end marker")
    if parsed.note:
        notes.append(parsed.note)
    failed = parsed.error is not None or (parsed.cut_short and not record.response_truncated)
    success = outcome == "ok" and (record.status or 0) < 400 and not failed
    if not success and outcome not in ("ok", None) and not notes:
        notes.append(f"exchange ended: {outcome}")
    return success, "; ".join(dict.fromkeys(notes)) or None


def _response_events(
    record: ExchangeRecord,
    session_id: str,
    scope: str,
    response: Response,
    parsed: ParsedResponse,
    usage: Usage,
    estimated: bool,
    timing: Timings,
    tracker: SessionTracker,
) -> list[SessionEvent]:
    stats = token_stats(usage, anthropic=record.listener == "anthropic", generation_ms=timing.generation_ms)
    calls = [b for b in response.content if isinstance(b, ToolUseBlock)]
    texts = [b.text for b in response.content if isinstance(b, TextBlock | RefusalBlock)]
    end = instant(record, timing.total_duration_ms)
    raw_size = len(record.response_body) or sum(len(c) for c in record.stream_chunks)
    recorded = ResponseRecorded(
        session_id=session_id,
        request_id=record.request_id,
        timestamp=end,
        response_text="\n".join(texts),
        response_json=parsed.json,
        model_used=response.model or record.model_sent or record.model_requested or "",
        provider_latency_ms=timing.provider_latency_ms,
        post_processing_ms=timing.post_processing_ms,
        total_proxy_overhead_ms=timing.pre_processing_ms + timing.post_processing_ms,
        tool_calls=[
            ToolCallStats(
                tool_name=c.name or "unknown", tool_call_id=c.id, input_size_bytes=len(_arguments(c).encode())
            )
            for c in calls
        ],
        response_size_bytes=raw_size,
        content_blocks=len(response.content),
        has_refusal=response.stop_reason == "refusal" or any(isinstance(b, RefusalBlock) for b in response.content),
        is_streaming=record.is_streaming,
        chunk_count=len(record.stream_chunks) if record.is_streaming else None,
        streaming_duration_ms=timing.streaming_duration_ms,
        tokens_estimated=estimated,
        **msgspec.structs.asdict(stats),
    )
    events: list[SessionEvent] = [recorded]
    sent_at = end.timestamp()
    for call in calls:
        arguments = _arguments(call)
        events.append(
            ToolCallRecorded(
                session_id=session_id,
                request_id=record.request_id,
                timestamp=end,
                tool_name=call.name or "unknown",
                tool_call_id=call.id,
                input_size_bytes=len(arguments.encode()),
                tool_arguments=arguments,
            )
        )
        tracker.remember(scope, call.id, call.name or "unknown", sent_at)
    return events


def _tool_summary(calls: list[ToolUseBlock], results: list[ToolCallRecorded]) -> tuple[dict[str, ToolStats], int, int]:
    """Calls are counted when the model makes them (this response); execution time and errors when their
    results come back (this request). Returns (by_tool, total_tool_time_ms, tool_error_count)."""
    by_tool: dict[str, ToolStats] = {}
    timed: dict[str, int] = {}
    for call in calls:
        by_tool.setdefault(call.name or "unknown", ToolStats()).call_count += 1
    for result in results:
        stats = by_tool.setdefault(result.tool_name, ToolStats())
        stats.error_count += result.success is False
        if result.execution_time_ms is not None:
            stats.total_execution_time_ms += result.execution_time_ms
            timed[result.tool_name] = timed.get(result.tool_name, 0) + 1
    for name, count in timed.items():
        by_tool[name].avg_execution_time_ms = by_tool[name].total_execution_time_ms // count
    total_time = sum(s.total_execution_time_ms for s in by_tool.values())
    return by_tool, total_time, sum(s.error_count for s in by_tool.values())


def _completed(
    record: ExchangeRecord,
    session_id: str,
    parsed: ParsedResponse,
    usage: Usage,
    model: str,
    timing: Timings,
    tools: tuple[dict[str, ToolStats], int, int],
) -> Completed:
    outcome = _outcome(record)
    success, error = _errors(record, parsed, outcome)
    anthropic = record.listener == "anthropic"
    reasoning = usage.reasoning_tokens
    overhead = timing.pre_processing_ms + timing.post_processing_ms
    latency = timing.provider_latency_ms
    by_tool, tool_time, tool_errors = tools
    priced = usage.total_input_tokens + usage.output_tokens > 0
    cost_provider = record.provider or record.provider_dialect or record.listener
    return Completed(
        session_id=session_id,
        request_id=record.request_id,
        timestamp=instant(record, timing.total_duration_ms),
        success=success,
        error=error,
        finish_reason=parsed.finish_reason,
        total_duration_ms=timing.total_duration_ms,
        provider_time_ms=latency,
        proxy_overhead_ms=overhead,
        total_input=usage.input_tokens,
        total_output=usage.output_tokens,
        total_thinking=reasoning if anthropic else 0,
        total_reasoning=0 if anthropic else reasoning,
        total_cached=usage.cache_read_tokens,
        total_cache_read=usage.cache_read_tokens,
        total_cache_creation=usage.cache_creation_tokens,
        grand_total=usage.total_input_tokens + usage.output_tokens,
        by_model={model: token_stats(usage, anthropic=anthropic, generation_ms=timing.generation_ms)} if priced else {},
        total_tool_calls=sum(s.call_count for s in by_tool.values()),
        unique_tool_count=len(by_tool),
        by_tool=by_tool,
        total_tool_time_ms=tool_time,
        tool_error_count=tool_errors,
        avg_provider_latency_ms=float(latency),
        p50_latency_ms=latency,
        p95_latency_ms=latency,
        p99_latency_ms=latency,
        max_latency_ms=latency,
        min_latency_ms=latency,
        avg_pre_processing_ms=timing.pre_processing_ms,
        avg_post_processing_ms=timing.post_processing_ms,
        proxy_overhead_percentage=100 * overhead / timing.total_duration_ms if timing.total_duration_ms else 0.0,
        streaming_stats=streaming_stats(record, timing),
        estimated_cost=estimate_cost(cost_provider, model, usage, at=instant(record, None)) if priced else None,
        outcome=outcome,
        provider=record.provider,
        status=record.status,
        attempts=[AttemptStats(provider=a.provider, status=a.status, reason=a.reason) for a in record.attempts],
    )


def events_at_end(record: ExchangeRecord, tracker: SessionTracker) -> list[SessionEvent]:
    """The events of a finished exchange, in order; never raises, and always ends with `completed`.

    [`stream_started`] (a stream answered with a 2xx/3xx whose first byte came; its `time_to_first_token_ms`
    is `first_byte_ms`);
    `response_recorded` and one `tool_call_recorded` per tool call (each remembered in `tracker`) when
    the endpoint is a generation (Anthropic messages, OpenAI chat, Responses) and an answer arrived, even
    a partial one (client gone, upstream failed mid-stream, copy truncated); then `completed` with the
    outcome, the notes on anything that went wrong (`error`), token totals, the tool summary, timings,
    chunk-latency statistics and the list-price cost. Missing usage is estimated (`tokens_estimated`).
    A response that cannot be read still yields `completed`, its `error` saying why.
    """
    facts = tracker.take_request(record.request_id)
    if facts is None or not facts.matches(record):
        facts = read_facts(record, estimate=False)[0]
    session_id, view = facts.session_id, facts.view
    timing = timings(record)
    events: list[SessionEvent] = []
    if record.is_streaming and (record.status or 0) < 400 and timing.time_to_first_token_ms > 0:
        events.append(
            StreamStarted(
                session_id=session_id,
                request_id=record.request_id,
                timestamp=instant(record, record.first_byte_ms),
                time_to_first_token_ms=timing.time_to_first_token_ms,
            )
        )
    usage, calls = Usage(), []
    model = record.model_sent or record.model_requested or view.model or ""
    try:
        parsed = parse_response(record)
        response = parsed.response
        if response is not None:
            usage, estimated = _usage(record, facts, parsed, response)
            if record.provider_dialect != "bedrock":
                # A Converse answer names no model: the client's copy carries the name it asked for, while the
                # model that answered (and is priced) is the Bedrock id the call was sent to.
                model = response.model or model
            calls = [b for b in response.content if isinstance(b, ToolUseBlock)]
            events.extend(
                _response_events(record, session_id, facts.scope, response, parsed, usage, estimated, timing, tracker)
            )
        elif parsed.usage is not None:
            usage = parsed.usage
    except Exception as exc:  # noqa: BLE001 - a recording must survive any response; the cause is recorded
        parsed = ParsedResponse(note=f"response could not be recorded: {type(exc).__name__}: {exc}")
    results = tool_result_events(record, view, session_id, facts.scope, tracker)
    tools = _tool_summary(calls, results)
    events.append(_completed(record, session_id, parsed, usage, model, timing, tools))
    return events
