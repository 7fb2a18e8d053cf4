"""The bytes the benchmark sends and the upstreams answer: a ~2 KB chat request, a ~67 KB coding-agent request, a
JSON reply, an SSE reply."""

from __future__ import annotations

import json

__all__ = [
    "BENCH_KEY",
    "GEMINI_MODEL",
    "STREAM_HEADER",
    "TOKEN_REPLY",
    "agent_request",
    "anthropic_json_reply",
    "anthropic_sse_events",
    "anthropic_sse_reply",
    "chat_request",
    "converse_events",
    "converse_reply",
    "gemini_json_reply",
    "gemini_sse_events",
    "gemini_sse_reply",
    "json_reply",
    "sse_events",
    "sse_reply",
]

STREAM_HEADER = "x-bench-stream"
"""Sent with streaming requests; the nginx upstream answers with the event stream when it sees it."""

BENCH_KEY = "lr-benchmarkKEYbenchmarkKEYbenchmarkKEYbench"
"""Every benchmark request carries `Authorization: Bearer BENCH_KEY`, as a real client sends its key: the
passthrough gateway forwards it, the `auth` variant checks it against its key store and strips it."""

_MODEL = "gpt-4o-mini"
_SYSTEM = "You are a concise assistant that answers questions about software performance. " * 6
_USER = "Explain why a reverse proxy adds latency and how event loops and connection pools reduce it. " * 15


def chat_request(stream: bool) -> bytes:
    """A small chat request of about 2 KB, the shape a coding assistant sends."""
    body = {
        "model": _MODEL,
        "messages": [
            {"role": "system", "content": _SYSTEM.strip()},
            {"role": "user", "content": _USER.strip()},
        ],
        "max_tokens": 256,
        "temperature": 0.2,
        "stream": stream,
    }
    return json.dumps(body, separators=(",", ":")).encode()


_AGENT_SYSTEM = (
    "You are an interactive command line tool that helps users with software engineering tasks. Use the "
    "instructions below and the tools available to you to assist the user. Keep answers short, follow the "
    "conventions of the code you read, never guess a file's content, and run the tests after every change. "
) * 10
_TOOL_NAMES = [
    "Read", "Write", "Edit", "MultiEdit", "Bash", "Glob", "Grep", "LS", "NotebookRead", "NotebookEdit",
    "WebFetch", "WebSearch", "TodoRead", "TodoWrite", "Task", "ExitPlanMode", "BashOutput", "KillShell",
    "SlashCommand", "Skill",
]  # fmt: skip


def _agent_tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name}: " + "Performs the operation on the user's workspace and returns its output. " * 12,
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "The absolute path of the file or directory."},
                    "content": {"type": "string", "description": "The text to write, or the pattern to find."},
                    "limit": {"type": "integer", "description": "How many lines or results at most."},
                },
                "required": ["path"],
            },
        },
    }


def _agent_turn(turn: int) -> list[dict[str, object]]:
    call_id = f"call_{turn:04d}"
    tool = _TOOL_NAMES[turn % len(_TOOL_NAMES)]
    return [
        {"role": "user", "content": f"Step {turn}: look at the module and fix what the failing test reports. " * 3},
        {
            "role": "assistant",
            "content": "I will inspect the file first.",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool, "arguments": json.dumps({"path": f"/work/src/module_{turn}.py"})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": f"def handler_{turn}(request):\n    return None\n" * 18},
    ]


def agent_request(stream: bool) -> bytes:
    """A ~67 KB request shaped like a coding agent's turn: a long system prompt, 20 tools and 30 turns of history
    (each a user message, an assistant tool call and its result), then the new user message."""
    messages: list[dict[str, object]] = [{"role": "system", "content": _AGENT_SYSTEM.strip()}]
    for turn in range(30):
        messages.extend(_agent_turn(turn))
    messages.append({"role": "user", "content": _USER.strip()})
    body = {
        "model": _MODEL,
        "messages": messages,
        "tools": [_agent_tool(name) for name in _TOOL_NAMES],
        "max_tokens": 4096,
        "stream": stream,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def json_reply() -> str:
    """A non-streamed chat completion (no `'` nor `$`, so it fits an nginx `return` string)."""
    body = {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion",
        "created": 1700000000,
        "model": _MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Proxies add a hop; pools and event loops hide it."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 420, "completion_tokens": 12, "total_tokens": 432},
    }
    return json.dumps(body, separators=(",", ":"))


def _chunk(delta: dict[str, str], finish: str | None) -> bytes:
    body = {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": _MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def sse_events(count: int = 10) -> list[bytes]:
    """`count` chat.completion.chunk events then `data: [DONE]`, each a complete SSE event."""
    words = ["Proxies", " add", " a", " hop;", " pools", " and", " loops", " hide", " it", "."]
    events = [_chunk({"role": "assistant", "content": ""}, None)]
    events += [_chunk({"content": words[i % len(words)]}, None) for i in range(count - 2)]
    events.append(_chunk({}, "stop"))
    events.append(b"data: [DONE]\n\n")
    return events


def sse_reply() -> bytes:
    """The whole event stream as one body."""
    return b"".join(sse_events())


_CONVERSE_TEXT = "Proxies add a hop; pools and loops hide it."


def converse_reply() -> bytes:
    """A Bedrock Converse answer with the same text and usage as `json_reply` (as `FakeBedrock` renders it)."""
    from lunaroute.testing import Answer, Usage, converse_body

    answer = Answer(text=_CONVERSE_TEXT, usage=Usage(input_tokens=420, output_tokens=12))
    return converse_body(answer, stream=False)


def converse_events() -> list[bytes]:
    """The same answer as a Converse event stream: one event-stream frame per list item (8 text deltas)."""
    from lunaroute.testing import Answer, Usage, converse_body

    answer = Answer(text=_CONVERSE_TEXT, usage=Usage(input_tokens=420, output_tokens=12))
    frames, data = [], converse_body(answer, stream=True, pieces=8)
    while data:
        size = int.from_bytes(data[:4], "big")
        frames.append(data[:size])
        data = data[size:]
    return frames


GEMINI_MODEL = "gemini-2.5-flash"
_WORDS = ["Proxies", " add", " a", " hop;", " pools", " and", " loops", " hide", " it", "."]


def _gemini_response(parts: list[dict[str, object]], finish: bool) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"role": "model", "parts": parts}, "index": 0}
    body: dict[str, object] = {"candidates": [candidate]}
    if finish:
        candidate["finishReason"] = "STOP"
        body["usageMetadata"] = {"promptTokenCount": 420, "candidatesTokenCount": 12, "totalTokenCount": 432}
    body["modelVersion"] = GEMINI_MODEL
    body["responseId"] = "gemini-bench0001"
    return body


def gemini_json_reply() -> str:
    """A Gemini `generateContent` answer with the same text and usage as `json_reply` (fits an nginx `return`)."""
    parts: list[dict[str, object]] = [{"text": "Proxies add a hop; pools and event loops hide it."}]
    return json.dumps(_gemini_response(parts, True), separators=(",", ":"))


def gemini_sse_events(count: int = 10) -> list[bytes]:
    """A Gemini `streamGenerateContent?alt=sse` stream of `count` events, the last with the finish reason and the
    usage, as Google frames them (CRLF CRLF)."""
    events = []
    for i in range(count):
        body = _gemini_response([{"text": _WORDS[i % len(_WORDS)]}], i == count - 1)
        events.append(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\r\n\r\n")
    return events


def gemini_sse_reply() -> bytes:
    return b"".join(gemini_sse_events())


TOKEN_REPLY = '{"access_token":"ya29.bench","expires_in":3600,"token_type":"Bearer"}'
"""The OAuth token endpoint's answer (for the Vertex variant's service account)."""

_ANTHROPIC_MODEL = "claude-sonnet-4-5"


def anthropic_json_reply() -> str:
    """An Anthropic `message` with the same text and usage as `json_reply` (fits an nginx `return`)."""
    body = {
        "id": "msg_bench0001",
        "type": "message",
        "role": "assistant",
        "model": _ANTHROPIC_MODEL,
        "content": [{"type": "text", "text": "Proxies add a hop; pools and event loops hide it."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 420, "output_tokens": 12},
    }
    return json.dumps(body, separators=(",", ":"))


def _anthropic_event(kind: str, body: dict[str, object]) -> bytes:
    return (
        f"event: {kind}\ndata: ".encode() + json.dumps({"type": kind, **body}, separators=(",", ":")).encode() + b"\n\n"
    )


def anthropic_sse_events(count: int = 10) -> list[bytes]:
    """An Anthropic Messages stream: `message_start`, a text block of `count - 5` deltas, then its stop,
    `message_delta` and `message_stop` (`count` events in all)."""
    start = {
        "message": {
            "id": "msg_bench0001",
            "type": "message",
            "role": "assistant",
            "model": _ANTHROPIC_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 420, "output_tokens": 1},
        }
    }
    events = [_anthropic_event("message_start", start)]
    events.append(_anthropic_event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    for i in range(max(1, count - 5)):
        delta = {"index": 0, "delta": {"type": "text_delta", "text": _WORDS[i % len(_WORDS)]}}
        events.append(_anthropic_event("content_block_delta", delta))
    events.append(_anthropic_event("content_block_stop", {"index": 0}))
    finish = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 12}}
    events.append(_anthropic_event("message_delta", finish))
    events.append(_anthropic_event("message_stop", {}))
    return events


def anthropic_sse_reply() -> bytes:
    return b"".join(anthropic_sse_events())
