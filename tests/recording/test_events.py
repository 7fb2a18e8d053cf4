"""The JSONL vocabulary: tags, flat fields, timestamps, ids, and an encoder that never fails."""

from __future__ import annotations

import datetime as dt
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.recording._builders import request_events

from lunaroute.recording.codec import decode_event, encode_event, encode_line, sanitize_event, sanitize_text
from lunaroute.recording.events import (
    EVENT_TYPES,
    Completed,
    RequestRecorded,
    ResponseRecorded,
    Started,
    StatsUpdated,
    StreamingStats,
    TokenTotals,
    is_valid_session_id,
    validate_session_id,
)


def test_every_event_round_trips_with_its_snake_case_tag() -> None:
    events = request_events("sess-1", "req-1")
    tags = [json.loads(encode_event(ev))["type"] for ev in events]
    assert tags == [
        "started",
        "request_recorded",
        "stream_started",
        "response_recorded",
        "tool_call_recorded",
        "completed",
        "stats_updated",
    ]
    assert {t.__struct_config__.tag for t in EVENT_TYPES} == set(tags)
    for ev in events:
        assert decode_event(encode_event(ev)) == ev


def test_fields_are_flat_at_top_level_as_the_rust_code_writes_them() -> None:
    ev = Completed(
        session_id="s",
        request_id="r",
        success=True,
        total_input=3,
        grand_total=7,
        total_tool_calls=2,
        avg_provider_latency_ms=1.5,
        streaming_stats=StreamingStats(total_chunks=4),
        outcome="client_disconnected",
    )
    doc = json.loads(encode_event(ev))
    for key in ("session_id", "request_id", "timestamp", "total_input", "grand_total", "total_tool_calls"):
        assert key in doc
    assert "final_stats" not in doc
    assert "tokens" not in doc
    assert doc["streaming_stats"]["total_chunks"] == 4  # nested in Rust too (not flattened)
    assert doc["outcome"] == "client_disconnected"
    resp = json.loads(encode_event(ResponseRecorded(session_id="s", request_id="r", input_tokens=1)))
    assert resp["input_tokens"] == 1
    assert resp["tokens_estimated"] is False
    assert "stats" not in resp
    upd = json.loads(
        encode_event(StatsUpdated(session_id="s", request_id="r", token_updates=TokenTotals(total_input=2)))
    )
    assert upd["token_updates"]["total_input"] == 2  # stats_updated keeps its nested structs


def test_decodes_a_line_written_by_the_rust_gateway() -> None:
    line = (
        b'{"type":"started","session_id":"abc_DEF-1","request_id":"r1","timestamp":"2026-01-02T03:04:05.123456789Z",'
        b'"model_requested":"gpt-5","provider":"openai","listener":"openai","is_streaming":true,"client_ip":null,'
        b'"user_agent":"codex","api_version":null,"request_headers":{},"session_tags":[]}'
    )
    ev = decode_event(line)
    assert isinstance(ev, Started)
    assert ev.timestamp.tzinfo is not None
    assert ev.timestamp.utcoffset() == dt.timedelta(0)
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"type":"stats_snapshot","session_id":"a","request_id":"b","timestamp":"2026-01-01T00:00:00Z"}')


def test_timestamps_are_rfc3339_utc() -> None:
    naive = Started(
        session_id="s",
        request_id="r",
        timestamp=dt.datetime(2026, 1, 1, 10),
        model_requested="m",
        provider="p",
        listener="l",
    )
    plus2 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    shifted = Started(session_id="s", request_id="r", timestamp=plus2, model_requested="m", provider="p", listener="l")
    assert json.loads(encode_event(naive))["timestamp"] == "2026-01-01T10:00:00Z"
    assert json.loads(encode_event(shifted))["timestamp"] == "2026-01-01T10:00:00Z"


@pytest.mark.parametrize(
    ("sid", "ok"),
    [
        ("a", True),
        ("A-b_9", True),
        ("x" * 255, True),
        ("", False),
        ("x" * 256, False),
        ("../etc", False),
        ("a b", False),
        ("é", False),
    ],
)
def test_session_id_validation(sid: str, ok: bool) -> None:
    assert is_valid_session_id(sid) is ok
    if ok:
        assert validate_session_id(sid) == sid
    else:
        with pytest.raises(ValueError, match="invalid session id"):
            validate_session_id(sid)


def test_nul_is_kept_and_lone_surrogate_is_stored_escaped() -> None:
    text = json.loads('"a\\u0000b\\ud800c"')  # what a lenient JSON parser hands us
    ev = RequestRecorded(session_id="s", request_id="r", request_text=text, request_json={"k\ud800": [text]})
    line = encode_line(ev)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    back = decode_event(line)
    assert isinstance(back, RequestRecorded)
    assert back.request_text == "a\x00b\\ud800c"
    assert back.request_json == {"k\\ud800": ["a\x00b\\ud800c"]}


def test_ten_megabyte_content_is_truncated_with_a_marker() -> None:
    big = "x" * 10_000_000
    ev = RequestRecorded(session_id="s", request_id="r", request_text=big, request_json={"messages": [big]})
    back = decode_event(encode_event(ev, max_field_chars=1_000_000))
    assert isinstance(back, RequestRecorded)
    assert back.request_text.startswith("x" * 1_000_000)
    assert back.request_text.endswith("[truncated by lunaroute: 9000000 of 10000000 characters dropped]")
    assert len(back.request_text) < 1_000_100
    assert back.request_json["messages"][0] == back.request_text


def test_a_cut_event_written_by_a_store_keeps_its_marker_counts() -> None:
    # The recorder sanitizes once; the JSONL writer encodes with the same cap. The second pass must not cut the
    # already-cut text again (which would make the marker count its own characters as dropped).
    text = "y" * 150
    ev = ResponseRecorded(session_id="s", request_id="r", response_text=text, response_json={"t": text})
    once = sanitize_event(ev, max_field_chars=50)
    assert sanitize_event(once, max_field_chars=50) == once
    back = decode_event(encode_event(once, max_field_chars=50))
    assert isinstance(back, ResponseRecorded)
    assert back.response_text == "y" * 50 + "…[truncated by lunaroute: 100 of 150 characters dropped]"
    assert sanitize_text(back.response_text, 50) == back.response_text
    # A text that merely ends like a marker, at another length, is still cut.
    fake = "z" * 80 + "…[truncated by lunaroute: 1 of 2 characters dropped]"
    assert sanitize_text(fake, 50).startswith("z" * 50 + "…[truncated by lunaroute: ")
    assert sanitize_text(fake, 50) != fake


def test_unserialisable_and_huge_values_become_text() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    ev = RequestRecorded(session_id="s", request_id="r", request_json={"o": Opaque(), "n": 2**80, "t": (1, 2)})
    clean = sanitize_event(ev)
    assert isinstance(clean, RequestRecorded)
    assert clean.request_json == {"o": "<opaque>", "n": str(2**80), "t": (1, 2)}
    assert json.loads(encode_event(ev))["request_json"]["o"] == "<opaque>"


def test_sanitize_returns_the_same_object_when_nothing_changes() -> None:
    ev = request_events("s", "r")[1]
    assert sanitize_event(ev) is ev
    assert sanitize_text("plain") == "plain"


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=200))
def test_encoding_never_fails(text: str) -> None:
    ev = ResponseRecorded(session_id="s", request_id="r", response_text=text, response_json={text: [text, None, 1.5]})
    back = decode_event(encode_event(ev))
    assert isinstance(back, ResponseRecorded)
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert back.response_text == text
