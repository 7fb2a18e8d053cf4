"""Anthropic messages wire: the `message` object and its `message_start` ... `message_stop` event stream."""

from __future__ import annotations

from typing import Any

import msgspec

from ._answer import Answer, ToolCall, Usage
from ._sse import encode_json, split_text, sse

__all__ = ["anthropic_usage", "render_message", "render_message_stream", "tool_use_id"]

DEFAULT_ID = "msg_mock"
DEFAULT_MODEL = "claude-mock"


def tool_use_id(call: ToolCall, index: int) -> str:
    """The call's id, or a deterministic Anthropic-shaped one."""
    return call.id or f"toolu_mock_{index}"


def anthropic_usage(usage: Usage, output_tokens: int | None = None) -> dict[str, Any]:
    """The messages `usage` object (`input_tokens` excludes cache reads, as the API reports it)."""
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens if output_tokens is None else output_tokens,
    }


def _tool_input(call: ToolCall) -> Any:
    """The parsed arguments for the non-streaming `input` field (an invalid JSON text becomes `{}`)."""
    try:
        return msgspec.json.decode(call.arguments or "{}")
    except msgspec.DecodeError:
        return {}


def _blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.thinking is not None:
        blocks.append({"type": "thinking", "thinking": answer.thinking, "signature": answer.thinking_signature or ""})
    if answer.text or not answer.tool_calls:
        blocks.append({"type": "text", "text": answer.text})
    blocks.extend(
        {"type": "tool_use", "id": tool_use_id(call, index), "name": call.name, "input": _tool_input(call)}
        for index, call in enumerate(answer.tool_calls)
    )
    return blocks


def _message(answer: Answer, content: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    usage = answer.final_usage
    return {
        "id": answer.id_or(DEFAULT_ID),
        "type": "message",
        "role": "assistant",
        "model": answer.model_or(DEFAULT_MODEL),
        "content": content,
        "stop_reason": answer.final_stop_reason if done else None,
        "stop_sequence": None,
        "usage": anthropic_usage(usage) if done else anthropic_usage(usage, output_tokens=1),
    }


def render_message(answer: Answer) -> bytes:
    """The non-streaming `message` JSON body: thinking, text and tool_use blocks in that order."""
    return encode_json(_message(answer, _blocks(answer), done=True))


def render_message_stream(answer: Answer, *, pieces: int = 4, ping: bool = False) -> list[bytes]:
    """The messages event stream, one list item per event (`event:` + `data:` lines).

    `message_start` (usage with `output_tokens: 1`); then per block `content_block_start`, its deltas
    (`thinking_delta` pieces and one `signature_delta`; `text_delta` pieces; `input_json_delta` fragments of
    the arguments text) and `content_block_stop`; `message_delta` with the stop reason and output tokens;
    `message_stop`. With `ping`, a `ping` event follows the first `content_block_start`, as the API does.
    """
    events = [sse({"type": "message_start", "message": _message(answer, [], done=False)}, "message_start")]

    def delta(index: int, body: dict[str, Any]) -> None:
        events.append(sse({"type": "content_block_delta", "index": index, "delta": body}, "content_block_delta"))

    for index, block in enumerate(_blocks(answer)):
        kind = block["type"]
        if kind == "thinking":
            start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        elif kind == "text":
            start = {"type": "text", "text": ""}
        else:
            start = {**block, "input": {}}
        events.append(
            sse({"type": "content_block_start", "index": index, "content_block": start}, "content_block_start")
        )
        if ping and index == 0:
            events.append(sse({"type": "ping"}, "ping"))
        if kind == "thinking":
            for piece in split_text(block["thinking"], pieces):
                delta(index, {"type": "thinking_delta", "thinking": piece})
            if block["signature"]:
                delta(index, {"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            for piece in split_text(block["text"], pieces):
                delta(index, {"type": "text_delta", "text": piece})
        else:
            arguments = answer.tool_calls[index - _first_tool_index(answer)].arguments
            for piece in split_text(arguments, pieces):
                delta(index, {"type": "input_json_delta", "partial_json": piece})
        events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    usage = answer.final_usage
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": answer.final_stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": usage.output_tokens},
    }
    events.append(sse(message_delta, "message_delta"))
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return events


def _first_tool_index(answer: Answer) -> int:
    """The block index of the first tool_use block."""
    return (answer.thinking is not None) + bool(answer.text or not answer.tool_calls)
