"""OpenAI chat-completions wire: the `chat.completion` object and its `chat.completion.chunk` stream."""

from __future__ import annotations

from typing import Any

from ._answer import Answer, StopReason, ToolCall, Usage
from ._sse import DONE, encode_json, split_text, sse

__all__ = ["finish_reason", "openai_usage", "render_chat_completion", "render_chat_stream", "tool_call_id"]

_FINISH: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

DEFAULT_ID = "chatcmpl-mock"
DEFAULT_MODEL = "gpt-mock"


def finish_reason(answer: Answer) -> str:
    """The OpenAI `finish_reason` for the answer's stop reason."""
    return _FINISH[answer.final_stop_reason]


def tool_call_id(call: ToolCall, index: int) -> str:
    """The call's id, or a deterministic OpenAI-shaped one."""
    return call.id or f"call_mock_{index}"


def openai_usage(usage: Usage) -> dict[str, Any]:
    """The chat/completions `usage` object; `prompt_tokens` includes the cached tokens."""
    prompt = usage.input_tokens + usage.cache_read_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def render_chat_completion(answer: Answer) -> bytes:
    """The non-streaming `chat.completion` JSON body. Thinking has no place in this dialect and is dropped."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text if answer.text or not answer.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": tool_call_id(call, index),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for index, call in enumerate(answer.tool_calls)
        ]
    return encode_json(
        {
            "id": answer.id_or(DEFAULT_ID),
            "object": "chat.completion",
            "created": answer.created,
            "model": answer.model_or(DEFAULT_MODEL),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(answer)}],
            "usage": openai_usage(answer.final_usage),
            "service_tier": "default",
            "system_fingerprint": None,
        }
    )


def render_chat_stream(answer: Answer, *, pieces: int = 4, include_usage: bool = False) -> list[bytes]:
    """The `chat.completion.chunk` SSE stream, one list item per event, ending with `data: [DONE]`.

    Order: a role chunk; the text in up to `pieces` content deltas; per tool call a delta carrying
    index/id/name with empty arguments, then the arguments in up to `pieces` fragments; a chunk with the
    `finish_reason`; when `include_usage` (the request's `stream_options.include_usage`), every chunk carries
    `"usage": null` and a last chunk has `"choices": []` and the usage.
    """
    head: dict[str, Any] = {
        "id": answer.id_or(DEFAULT_ID),
        "object": "chat.completion.chunk",
        "created": answer.created,
        "model": answer.model_or(DEFAULT_MODEL),
        "service_tier": "default",
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            body["usage"] = None
        return sse(body)

    role_content = "" if answer.text or not answer.tool_calls else None
    events = [chunk({"role": "assistant", "content": role_content, "refusal": None})]
    events.extend(chunk({"content": part}) for part in split_text(answer.text, pieces))
    for index, call in enumerate(answer.tool_calls):
        opening = {
            "index": index,
            "id": tool_call_id(call, index),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [opening]}))
        events.extend(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            for part in split_text(call.arguments, pieces)
        )
    events.append(chunk({}, finish_reason(answer)))
    if include_usage:
        events.append(sse({**head, "choices": [], "usage": openai_usage(answer.final_usage)}))
    events.append(DONE)
    return events
