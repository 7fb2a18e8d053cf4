"""The events recorded when a request arrives: `started`, `request_recorded`, and its tool results."""

from __future__ import annotations

from collections.abc import Sequence

from lunaroute.recording.events import RequestRecorded, SessionEvent, Started, ToolCallRecorded
from lunaroute.types import ExchangeRecord

from ._body import header
from ._facts import read_facts
from ._request import RequestView
from ._stats import instant, offset_ms
from ._tracker import SessionTracker

__all__ = ["MAX_USER_AGENT", "events_at_start", "tool_result_events"]

MAX_USER_AGENT = 255


def tool_result_events(
    record: ExchangeRecord, view: RequestView, session_id: str, scope: str, tracker: SessionTracker
) -> list[ToolCallRecorded]:
    """One `tool_call_recorded` per new tool result in the request.

    `tool_name` comes from the request's own history, else from the tracker, else `unknown`.
    `execution_time_ms` is an ESTIMATE (see `SessionTracker`): the time from the end of the response that
    carried the call to the arrival of this request; None when the call was not seen by this gateway.
    `success` is exact for Anthropic (`is_error`), a conservative guess for OpenAI (see `_toolstatus`).
    `scope` is the tracker key of the exchange's tool calls (see `session_and_scope`).
    """
    events: list[ToolCallRecorded] = []
    for result in view.new_tool_results:
        known = view.tool_names.get(result.call_id)
        seen = tracker.lookup(scope, result.call_id, record.started_at)
        if seen is not None and known is not None and seen.tool_name != known:
            seen = None  # an id clash between clients in the anonymous scope
        events.append(
            ToolCallRecorded(
                session_id=session_id,
                request_id=record.request_id,
                timestamp=instant(record, None),
                tool_name=known or (seen.tool_name if seen is not None else "unknown"),
                tool_call_id=result.call_id,
                execution_time_ms=SessionTracker.estimate_ms(seen, record.started_at) if seen is not None else None,
                output_size_bytes=result.output_size_bytes,
                success=result.success,
            )
        )
    return events


def _session_tags(record: ExchangeRecord, extra: Sequence[str]) -> list[str]:
    tags = list(extra)
    if record.model_sent and record.model_requested and record.model_sent != record.model_requested:
        tags.append(f"model_override:{record.model_sent}")
    return tags


def events_at_start(
    record: ExchangeRecord, tracker: SessionTracker, *, session_tags: Sequence[str] = ()
) -> list[SessionEvent]:
    """`started`, `request_recorded` and one `tool_call_recorded` per new tool result, in that order.

    Needs only the request half of `record` (it may be called before the response is known). Never
    raises for any body. `session_tags` are added to those derived here (`model_override:<model>` when
    the model sent upstream differs from the one requested). `request_json` is the decoded body;
    `request_text` the last user message's text, whatever its shape (string, blocks, Responses items).
    `estimated_tokens` is the local input-token estimate for generation endpoints (0 for others).
    """
    facts, view = read_facts(record)
    tracker.keep_request(record.request_id, facts)
    session_id = facts.session_id
    headers: dict[str, str] = {}
    for name, value in record.request_headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    user_agent = header(record.request_headers, "user-agent")
    sent_ms = offset_ms(record.upstream_sent_ms)
    events: list[SessionEvent] = [
        Started(
            session_id=session_id,
            request_id=record.request_id,
            timestamp=instant(record, None),
            model_requested=record.model_requested or view.model or "",
            provider=record.provider or "",
            listener=record.listener,
            is_streaming=record.is_streaming,
            client_ip=record.client_ip,
            key_id=record.key_id,
            key_name=record.key_name,
            team=record.team,
            user_agent=user_agent[:MAX_USER_AGENT] or None,
            api_version=header(record.request_headers, "anthropic-version") or None,
            request_headers=headers,
            session_tags=_session_tags(record, session_tags),
        ),
        RequestRecorded(
            session_id=session_id,
            request_id=record.request_id,
            timestamp=instant(record, sent_ms),
            request_text=view.text,
            request_json=view.json,
            estimated_tokens=facts.estimated_input or 0,
            pre_processing_ms=sent_ms,
            request_size_bytes=len(record.request_body),
            message_count=view.message_count,
            has_system_prompt=view.has_system_prompt,
            has_tools=view.tool_count > 0,
            tool_count=view.tool_count,
        ),
    ]
    events.extend(tool_result_events(record, view, session_id, facts.scope, tracker))
    return events
