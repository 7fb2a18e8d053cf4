"""Exporting sessions: raw events as JSONL, typed results as JSON, summaries and requests as CSV.

CSV cells are safe to open in a spreadsheet: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return (a formula to Excel, LibreOffice and Sheets) is prefixed with `'`, so it is shown as text. Numbers are
written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import msgspec

from lunaroute.recording.codec import encode_line
from lunaroute.recording.events import SessionEvent
from lunaroute.recording.query._models import RequestRow, SessionDetail, SessionSummary

__all__ = [
    "ExportFormat",
    "SessionExport",
    "csv_cell",
    "events_jsonl",
    "requests_csv",
    "sessions_csv",
    "to_json",
]

ExportFormat = Literal["jsonl", "json", "csv"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ENCODER = msgspec.json.Encoder()


class SessionExport(msgspec.Struct, frozen=True, kw_only=True):
    """One session as exported to JSON: the stored view and its raw events (empty when no JSONL is kept)."""

    session: SessionDetail
    events: tuple[SessionEvent, ...] = ()


def csv_cell(value: object) -> str | int | float:
    """`value` as a CSV cell: text neutralised against formula injection, numbers unchanged, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow([csv_cell(v) for v in row])
        yield buf.getvalue()


_SESSION_HEADER = (
    "session_id",
    "started_at",
    "completed_at",
    "provider",
    "listener",
    "model_requested",
    "model_used",
    "success",
    "error_message",
    "finish_reason",
    "total_duration_ms",
    "user_agent",
    "is_streaming",
    "request_count",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "total_tokens",
    "cost_usd",
)


def sessions_csv(sessions: Iterable[SessionSummary]) -> Iterator[str]:
    """A header line, then one CSV line per session."""
    return _csv(
        _SESSION_HEADER,
        (
            (
                s.session_id,
                s.started_at,
                s.completed_at,
                s.provider,
                s.listener,
                s.model_requested,
                s.model_used,
                s.success,
                s.error_message,
                s.finish_reason,
                s.total_duration_ms,
                s.user_agent,
                s.is_streaming,
                s.request_count,
                s.tokens.input,
                s.tokens.output,
                s.tokens.thinking,
                s.tokens.reasoning,
                s.tokens.cache_read,
                s.tokens.cache_creation,
                s.total_tokens,
                s.cost_usd,
            )
            for s in sessions
        ),
    )


_REQUEST_HEADER = (
    "session_id",
    "request_id",
    "created_at",
    "model_name",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "total_tokens",
    "request_size_bytes",
    "response_size_bytes",
    "has_tools",
    "has_refusal",
    "user_agent",
)


def requests_csv(session_id: str, requests: Iterable[RequestRow]) -> Iterator[str]:
    """A header line, then one CSV line per request of the session."""
    return _csv(
        _REQUEST_HEADER,
        (
            (
                session_id,
                r.request_id,
                r.created_at,
                r.model_name,
                r.tokens.input,
                r.tokens.output,
                r.tokens.thinking,
                r.tokens.reasoning,
                r.tokens.cache_read,
                r.tokens.cache_creation,
                r.total_tokens,
                r.request_size_bytes,
                r.response_size_bytes,
                r.has_tools,
                r.has_refusal,
                r.user_agent,
            )
            for r in requests
        ),
    )


def events_jsonl(events: Iterable[SessionEvent]) -> Iterator[bytes]:
    """One JSONL record per event, in the recorder's own encoding."""
    return (encode_line(ev) for ev in events)


def to_json(value: object) -> bytes:
    """Any query result (struct, tuple of structs) as compact JSON."""
    return _ENCODER.encode(value)
