"""What every store holds after a fixed corpus of exchanges went through the gateway's capture and the recorder
process: compared with a golden file, so a change to how the recorder writes (batching, layout, fewer parses)
cannot change what the readers get back.

The corpus has both dialects, JSON and streamed replies, tool calls and their results in the next request, an
upstream error, session-less and sessioned requests. The JSONL store is read through its readers (`find_session_files`
and `iter_session_file`, what `import-sessions` and the UI use), not byte by byte; the SQLite and PostgreSQL stores
table by table, every column but the row ids and the wall-clock times of the writes (`created_at`, `last_at`, ...).

Set `LUNAROUTE_WRITE_GOLDEN=1` to rewrite the golden file after a deliberate change of content.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec

from lunaroute.config import config_from_mapping
from lunaroute.recording._setup import open_recording
from lunaroute.recording.jsonl_reader import iter_session_file
from lunaroute.recording.query.importer import find_session_files
from lunaroute.types import Endpoint, ExchangeRecord

from ._builders import FOREGROUND_RECORDER

GOLDEN = Path(__file__).parent / "store_contents.golden.json"
FIXTURES = Path(__file__).parents[1] / "fixtures"
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC).timestamp()
_SKIPPED_COLUMNS = frozenset({"id", "created_at", "updated_at", "applied_at", "last_at"})
_WRITE_HOUR_TABLES = frozenset(
    {"rollup_requests", "rollup_requests_by_agent", "rollup_ttft", "rollup_requests_delta", "rollup_ttft_delta"}
)
"""Rollups bucketed by the hour of the write (`created_at`): their `hour` is left out too."""


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _events(name: str) -> list[bytes]:
    """A fixture's SSE events, one per list item (as the relay hands them to the capture)."""
    return [part + b"\n\n" for part in _fixture(name).split(b"\n\n") if part.strip()]


def _chat(messages: list[dict[str, Any]], *, stream: bool, tools: bool = False) -> bytes:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": messages, "stream": stream}
    if tools:
        body["tools"] = json.loads(_fixture("openai_chat/request_tools.json"))["tools"]
    return json.dumps(body).encode()


def _anthropic(messages: list[dict[str, Any]], *, stream: bool, session: str) -> bytes:
    body = json.loads(_fixture("anthropic_messages/request_tools.json"))
    body.update(messages=messages, stream=stream, metadata={"user_id": json.dumps({"session_id": session})})
    return json.dumps(body).encode()


_TOOL_CALLS = json.loads(_fixture("openai_chat/response_tool_calls.json"))["choices"][0]["message"]["tool_calls"]
_TOOL_USE = next(
    b for b in json.loads(_fixture("anthropic_messages/response_tool_use.json"))["content"] if b["type"] == "tool_use"
)

_Exchange = tuple[Endpoint, bytes, list[tuple[str, str]], int, bytes | list[bytes], str]
"""Endpoint, request body, extra request headers, status, reply (a body, or SSE events), outcome."""


def corpus() -> list[_Exchange]:
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    answered = [*ask, {"role": "assistant", "content": None, "tool_calls": _TOOL_CALLS}]
    answered += [{"role": "tool", "tool_call_id": c["id"], "content": '{"temp": 21}'} for c in _TOOL_CALLS]
    session = [("session_id", "sess-openai-1")]
    a_ask = [{"role": "user", "content": "Weather in San Francisco?"}]
    a_result: list[dict[str, Any]] = [
        *a_ask,
        {"role": "assistant", "content": [_TOOL_USE]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": _TOOL_USE["id"], "content": "no", "is_error": True}],
        },
    ]
    return [
        (Endpoint.OPENAI_CHAT, _chat(ask, stream=False), [], 200, _fixture("openai_chat/response_text.json"), "ok"),
        (Endpoint.OPENAI_CHAT, _chat(ask, stream=True), [], 200, _events("openai_chat/stream_text.sse"), "ok"),
        (
            Endpoint.OPENAI_CHAT,
            _chat(ask, stream=False, tools=True),
            session,
            200,
            _fixture("openai_chat/response_tool_calls.json"),
            "ok",
        ),
        (
            Endpoint.OPENAI_CHAT,
            _chat(answered, stream=True, tools=True),
            session,
            200,
            _events("openai_chat/stream_parallel_tools.sse"),
            "ok",
        ),
        (
            Endpoint.OPENAI_CHAT,
            _chat(ask, stream=False),
            session,
            429,
            _fixture("openai_chat/error_rate_limit.json"),
            "upstream_error",
        ),
        (
            Endpoint.ANTHROPIC_MESSAGES,
            _anthropic(a_ask, stream=False, session="sess-anthropic-1"),
            [("anthropic-version", "2023-06-01")],
            200,
            _fixture("anthropic_messages/response_tool_use.json"),
            "ok",
        ),
        (
            Endpoint.ANTHROPIC_MESSAGES,
            _anthropic(a_result, stream=True, session="sess-anthropic-1"),
            [("anthropic-version", "2023-06-01")],
            200,
            _events("anthropic_messages/stream_thinking.sse"),
            "ok",
        ),
        (
            Endpoint.ANTHROPIC_MESSAGES,
            _anthropic(a_ask, stream=True, session="sess-anthropic-2"),
            [],
            200,
            _events("anthropic_messages/stream_tool_use.sse"),
            "ok",
        ),
        (
            Endpoint.ANTHROPIC_MESSAGES,
            _anthropic(a_ask, stream=False, session="sess-anthropic-2"),
            [],
            529,
            _fixture("anthropic_messages/error_overloaded.json"),
            "upstream_error",
        ),
    ]


def _record(n: int, exchange: _Exchange) -> ExchangeRecord:
    endpoint, body, headers, status, reply, outcome = exchange
    anthropic = endpoint is Endpoint.ANTHROPIC_MESSAGES
    stream = isinstance(reply, list)
    record = ExchangeRecord(
        request_id=f"req-{n:03d}",
        started_at=T0 + n,
        listener="anthropic" if anthropic else "openai",
        endpoint=endpoint,
        method="POST",
        path="/v1/messages" if anthropic else "/v1/chat/completions",
        request_headers=[("user-agent", "corpus/1"), ("content-type", "application/json"), *headers],
        request_body=body,
        model_requested=json.loads(body)["model"],
        is_streaming=stream,
    )
    record.provider = record.provider_dialect = "anthropic" if anthropic else "openai"
    record.model_sent, record.status, record.outcome = record.model_requested, status, outcome  # type: ignore[assignment]
    if outcome != "ok":
        record.error = f"upstream answered {status}"
    if isinstance(reply, list):
        record.response_headers = [("content-type", "text/event-stream")]
        record.stream_chunks = reply
        record.chunk_offsets_ms = [2.0 + 3 * k for k in range(len(reply))]
    else:
        record.response_headers = [("content-type", "application/json")]
        record.response_body = reply
    record.upstream_sent_ms, record.upstream_head_ms, record.first_byte_ms = 0.5, 1.5, 2.0
    record.finished_ms = 2.0 + 3 * len(reply) if isinstance(reply, list) else 4.0
    return record


async def record_corpus(root: Path, postgres: str | None = None) -> None:
    """Journal the corpus through the capture and wait until the recorder process has stored all of it."""
    mapping: dict[str, Any] = {
        "jsonl": {"directory": str(root / "sessions")},
        "sqlite": {"path": str(root / "sessions.db")},
        "journal_directory": str(root / "journal"),
        "worker": FOREGROUND_RECORDER,
    }
    if postgres is not None:
        mapping["postgres"] = {"enabled": True, "connection_string": postgres}
    stack = await open_recording(config_from_mapping({"session_recording": mapping}).session_recording)
    try:
        exchanges = corpus()
        for n, exchange in enumerate(exchanges):
            record = _record(n, exchange)
            stack.capture.begin(record)
            stack.capture.end(record)
        await asyncio.wait_for(stack.capture.drain(), 60)
        assert stack.capture.recorder_stats.exchanges_recorded == len(exchanges)
    finally:
        await stack.aclose()


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, float):
        return round(value, 6)
    return value


def _rows(table: str, columns: list[str], rows: list[Any]) -> list[dict[str, object]]:
    skipped = _SKIPPED_COLUMNS | {"hour"} if table in _WRITE_HOUR_TABLES else _SKIPPED_COLUMNS
    kept = [(i, c) for i, c in enumerate(columns) if c not in skipped]
    out = [{c: _plain(row[i]) for i, c in kept} for row in rows]
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def jsonl_contents(directory: Path) -> dict[str, list[object]]:
    """Every session's events as the JSONL readers return them."""
    sessions, invalid = find_session_files(directory)
    assert invalid == []
    return {
        sid: [msgspec.to_builtins(ev) for path in paths for ev in iter_session_file(path)]
        for sid, paths in sorted(sessions.items())
    }


def sqlite_contents(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out: dict[str, object] = {}
        for table in tables:
            cursor = conn.execute(f"SELECT * FROM {table}")
            out[table] = _rows(table, [d[0] for d in cursor.description], cursor.fetchall())
        return out
    finally:
        conn.close()


async def postgres_contents(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        tables = [
            r[0]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_name <> 'schema_migrations' ORDER BY 1"
            )
        ]
        out: dict[str, object] = {}
        for table in tables:
            rows = await conn.fetch(f'SELECT * FROM "{table}"')
            columns = list(rows[0].keys()) if rows else []
            out[table] = _rows(table, columns, [tuple(r.values()) for r in rows])
        return out
    finally:
        await conn.close()


def _check(name: str, contents: object) -> None:
    text = json.dumps(contents, indent=1, sort_keys=True, default=str)
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
    if os.environ.get("LUNAROUTE_WRITE_GOLDEN") == "1":
        golden[name] = json.loads(text)
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        return
    assert name in golden, f"no golden contents for {name}: run with LUNAROUTE_WRITE_GOLDEN=1"
    assert json.loads(text) == golden[name]


async def test_jsonl_and_sqlite_hold_the_golden_contents(tmp_path: Path) -> None:
    await record_corpus(tmp_path)
    _check("jsonl", jsonl_contents(tmp_path / "sessions"))
    _check("sqlite", sqlite_contents(tmp_path / "sessions.db"))


async def test_postgres_holds_the_golden_contents(tmp_path: Path, pg_dsn: str) -> None:
    await record_corpus(tmp_path, pg_dsn)
    _check("postgres", await postgres_contents(pg_dsn))
