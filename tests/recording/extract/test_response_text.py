"""The recorded `response_text`: every text block and every refusal, each separated from the next, in any dialect
and whether the answer was streamed or not."""

from __future__ import annotations

import gzip

import pytest

from lunaroute.recording.events import ResponseRecorded
from lunaroute.recording.extract import SessionTracker, events_at_end
from lunaroute.types import Endpoint

from ._records import body, exchange, one

MESSAGES = Endpoint.ANTHROPIC_MESSAGES
CHAT = Endpoint.OPENAI_CHAT
RESPONSES = Endpoint.OPENAI_RESPONSES
REQUEST = body({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})


def _recorded(endpoint: Endpoint, **fields: object) -> ResponseRecorded:
    recorded: ResponseRecorded = one(
        events_at_end(exchange(endpoint, REQUEST, **fields), SessionTracker()), ResponseRecorded
    )
    return recorded


def _anthropic_message(*texts: str) -> bytes:
    return body(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [{"type": "text", "text": t} for t in texts],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    )


def _anthropic_stream(*texts: str) -> bytes:
    def event(name: str, data: object) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + body(data) + b"\n\n"

    out = [
        event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-x",
                    "content": [],
                    "usage": {"input_tokens": 3, "output_tokens": 0},
                },
            },
        )
    ]
    for i, text in enumerate(texts):
        out += [
            event(
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
            ),
            event(
                "content_block_delta",
                {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": text}},
            ),
            event("content_block_stop", {"type": "content_block_stop", "index": i}),
        ]
    out += [
        event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
        ),
        event("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(out)


def test_text_blocks_of_a_message_are_kept_apart() -> None:
    recorded = _recorded(MESSAGES, response=_anthropic_message("First block.", "Second block."))
    assert recorded.response_text == "First block.\nSecond block."
    assert recorded.content_blocks == 2


def test_text_blocks_of_a_streamed_message_are_kept_apart() -> None:
    recorded = _recorded(MESSAGES, stream=_anthropic_stream("one", "two", "three"))
    assert recorded.response_text == "one\ntwo\nthree"


def test_a_chat_refusal_is_part_of_the_response_text() -> None:
    answer = {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
                "finish_reason": "stop",
            }
        ],
    }
    recorded = _recorded(CHAT, response=body(answer))
    assert recorded.response_text == "I can't help with that."
    assert recorded.has_refusal


def test_a_streamed_chat_refusal_is_part_of_the_response_text() -> None:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        data = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-x",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + body(data) + b"\n\n"

    stream = b"".join(
        [
            chunk({"role": "assistant", "content": "Sure. "}),
            chunk({"refusal": "Actually, "}),
            chunk({"refusal": "no."}),
            chunk({}, "stop"),
            b"data: [DONE]\n\n",
        ]
    )
    recorded = _recorded(CHAT, stream=stream)
    assert recorded.response_text == "Sure. \nActually, no."
    assert recorded.has_refusal


def test_responses_api_texts_and_refusal_are_all_recorded() -> None:
    answer = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Part A."},
                    {"type": "output_text", "text": "Part B."},
                    {"type": "refusal", "refusal": "Not that."},
                ],
            }
        ],
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    recorded = _recorded(RESPONSES, response=body(answer))
    assert recorded.response_text == "Part A.\nPart B.\nNot that."
    assert recorded.has_refusal


@pytest.mark.parametrize("streamed", [False, True])
def test_a_gzip_body_is_recorded_decoded(streamed: bool) -> None:
    plain = _anthropic_stream("zipped") if streamed else _anthropic_message("zipped")
    packed = gzip.compress(plain)
    kind = "text/event-stream" if streamed else "application/json"
    headers = [("content-type", kind), ("content-encoding", "gzip")]
    fields: dict[str, object] = {"stream": [packed]} if streamed else {"response": packed}
    recorded = _recorded(MESSAGES, response_headers=headers, **fields)
    assert recorded.response_text == "zipped"
