"""OpenAI Responses API (Codex) exchanges: the stream, the response object, and cut-short streams."""

from __future__ import annotations

import msgspec

from lunaroute.recording.events import Completed, RequestRecorded, ResponseRecorded, ToolCallRecorded
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.types import Endpoint

from ._records import body, exchange, fixture, one, types

RESPONSES = Endpoint.OPENAI_RESPONSES
CODEX_HEADERS = [("session_id", "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), ("originator", "codex_cli_rs")]


def codex_stream(**fields: object) -> list:
    record = exchange(
        RESPONSES,
        fixture("codex_request.json"),
        stream=fixture("codex_stream.sse"),
        request_headers=CODEX_HEADERS,
        **fields,
    )
    return events_at_end(record, SessionTracker())


def test_codex_request() -> None:
    record = exchange(RESPONSES, fixture("codex_request.json"), request_headers=CODEX_HEADERS)
    events = events_at_start(record, SessionTracker())
    assert types(events) == ["Started", "RequestRecorded", "ToolCallRecorded"]
    assert {e.session_id for e in events} == {"0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}
    req: RequestRecorded = events[1]
    assert req.request_text == "List the files and tell me what the project does."
    assert (req.message_count, req.has_system_prompt, req.tool_count) == (5, True, 2)
    assert req.estimated_tokens > 0
    result: ToolCallRecorded = events[2]
    # Codex reports the shell's exit code: 0 is a success.
    assert (result.tool_name, result.tool_call_id, result.success) == ("shell", "call_Xy12ab", True)


def test_codex_stream() -> None:
    events = codex_stream()
    assert types(events) == ["StreamStarted", "ResponseRecorded", "ToolCallRecorded", "Completed"]
    resp: ResponseRecorded = events[1]
    assert resp.response_text == "The project has a README and a src folder; let me read it."
    assert resp.model_used == "gpt-5-codex"
    assert (resp.input_tokens, resp.cache_read_tokens, resp.output_tokens, resp.reasoning_tokens) == (
        1024,
        4096,
        140,
        64,
    )
    assert resp.total_tokens == 5260
    assert resp.content_blocks == 3
    assert not resp.tokens_estimated
    assert resp.response_json["output"][0]["summary"][0]["text"] == "**Reading the README**"
    call: ToolCallRecorded = events[2]
    assert (call.tool_name, call.tool_call_id) == ("shell", "call_Rd34cd")
    assert msgspec.json.decode(call.tool_arguments or "") == {"command": ["cat", "README.md"]}
    done: Completed = events[3]
    assert done.success
    assert done.finish_reason == "completed"
    assert done.total_reasoning == 64
    assert done.estimated_cost is not None
    assert done.estimated_cost.thinking_cost_usd is not None


def test_codex_stream_from_deltas_only() -> None:
    # Without the item-done and completed events, the deltas alone assemble the same content.
    kept = [
        block
        for block in fixture("codex_stream.sse").split(b"\n\n")
        if b"output_item.done" not in block and b"response.completed" not in block
    ]
    events = events_at_end(
        exchange(RESPONSES, fixture("codex_request.json"), stream=b"\n\n".join(kept), outcome="client_disconnected"),
        SessionTracker(),
    )
    resp = one(events, ResponseRecorded)
    assert resp.response_text == "The project has a README and a src folder; let me read it."
    assert resp.response_json["output"][0]["summary"][0]["text"] == "**Reading the README**"
    assert resp.tokens_estimated
    assert resp.output_tokens > 0
    assert resp.input_tokens > 0
    call = one(events, ToolCallRecorded)
    assert msgspec.json.decode(call.tool_arguments or "") == {"command": ["cat", "README.md"]}
    done = one(events, Completed)
    assert not done.success
    assert done.outcome == "client_disconnected"
    assert done.finish_reason is None
    assert done.error == "exchange ended: client_disconnected"


def test_response_object() -> None:
    response = {
        "id": "resp_1",
        "object": "response",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "model": "gpt-5",
        "output": [
            {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "think"}], "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hel"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
        "usage": {"input_tokens": 10, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}},
    }
    record = exchange(RESPONSES, body({"model": "gpt-5", "input": "Hi"}), response=body(response))
    events = events_at_end(record, SessionTracker())
    resp = one(events, ResponseRecorded)
    assert resp.response_text == "Hel"
    assert resp.content_blocks == 3
    assert resp.response_json == response
    assert (resp.input_tokens, resp.output_tokens, resp.reasoning_tokens) == (10, 5, 2)
    assert one(events, Completed).finish_reason == "max_output_tokens"
    assert one(events_at_start(record, SessionTracker()), RequestRecorded).request_text == "Hi"


def test_failed_and_error_events() -> None:
    failed = (
        b'data: {"type":"response.created","response":{"id":"r","model":"gpt-5","status":"in_progress"}}\n\n'
        b'data: {"type":"response.output_text.delta","output_index":0,"delta":"Part"}\n\n'
        b'data: {"type":"response.failed","response":{"id":"r","model":"gpt-5","status":"failed",'
        b'"error":{"code":"server_error","message":"boom"},"output":[]}}\n\n'
    )
    events = events_at_end(exchange(RESPONSES, b"{}", stream=failed), SessionTracker())
    assert one(events, ResponseRecorded).response_text == "Part"
    done = one(events, Completed)
    assert not done.success
    assert done.error == "server_error: boom"
    error = b'data: {"type":"error","code":"rate_limit_exceeded","message":"slow down"}\n\n'
    done = one(events_at_end(exchange(RESPONSES, b"{}", stream=error), SessionTracker()), Completed)
    assert not done.success
    assert done.error is not None
    assert "slow down" in done.error
