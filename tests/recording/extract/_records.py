"""Builders for the extraction tests: exchange records as the server would hand them over, and fixtures."""

from __future__ import annotations

import pathlib
from typing import Any

import msgspec

from lunaroute.recording.events import SessionEvent
from lunaroute.types import Endpoint, ExchangeRecord

HERE = pathlib.Path(__file__).parent / "fixtures"
SHARED = pathlib.Path(__file__).parents[2] / "fixtures"
T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z, the arrival of every built exchange unless told otherwise."""

SSE = [("content-type", "text/event-stream")]
JSON = [("content-type", "application/json")]


def fixture(name: str) -> bytes:
    """A fixture of this package, or `dialect/name` from the shared per-dialect fixtures."""
    local = HERE / name
    return local.read_bytes() if local.exists() else (SHARED / name).read_bytes()


def body(value: Any) -> bytes:
    return msgspec.json.encode(value)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def exchange(
    endpoint: Endpoint,
    request: bytes,
    *,
    response: bytes = b"",
    stream: bytes | list[bytes] | None = None,
    status: int | None = 200,
    request_headers: list[tuple[str, str]] | None = None,
    response_headers: list[tuple[str, str]] | None = None,
    request_id: str = "req_1",
    started_at: float = T0,
    provider: str | None = None,
    model: str | None = None,
    chunk_gap_ms: float = 10.0,
    finished_ms: float | None = None,
    **fields: Any,
) -> ExchangeRecord:
    """One finished exchange. A `stream` (bytes are cut into 64-byte chunks) arrives from 100 ms on, one
    chunk every `chunk_gap_ms`; a plain `response` finishes at 250 ms."""
    chunks = split(stream, 64) if isinstance(stream, bytes) else (stream or [])
    offsets = [100.0 + i * chunk_gap_ms for i in range(len(chunks))]
    streaming = stream is not None
    if finished_ms is None:
        finished_ms = offsets[-1] + 1 if offsets else 250.0
    dialect = endpoint.dialect
    fields.pop("first_byte_ms", 100.0 if streaming else 240.0)
    return ExchangeRecord(
        request_id=request_id,
        started_at=started_at,
        listener=dialect,
        endpoint=endpoint,
        method="POST",
        path="/v1/messages" if dialect == "anthropic" else "/v1/chat/completions",
        request_headers=request_headers or [],
        request_body=request,
        model_requested=model,
        is_streaming=fields.pop("is_streaming", streaming),
        provider=provider or dialect,
        provider_dialect=dialect,
        status=status,
        response_headers=response_headers if response_headers is not None else (SSE if streaming else JSON),
        response_body=response,
        stream_chunks=chunks,
        chunk_offsets_ms=offsets,
        upstream_sent_ms=2.0,
        upstream_head_ms=90.0,
        first_byte_ms=100.0 if streaming else 240.0,
        finished_ms=finished_ms,
        outcome=fields.pop("outcome", "ok" if status is not None and status < 400 else "upstream_error"),
        **fields,
    )


def of_type(events: list[SessionEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def one(events: list[SessionEvent], kind: type[Any]) -> Any:
    found = of_type(events, kind)
    assert len(found) == 1, f"expected one {kind.__name__}, got {[type(e).__name__ for e in events]}"
    return found[0]


def types(events: list[SessionEvent]) -> list[str]:
    return [type(e).__name__ for e in events]
