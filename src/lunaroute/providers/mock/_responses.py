"""OpenAI Responses API wire: the `response` object and its typed event stream with sequence numbers."""

from __future__ import annotations

from typing import Any

from ._answer import Answer, Usage
from ._chat import tool_call_id
from ._sse import encode_json, split_text, sse

__all__ = ["render_response", "render_response_stream", "responses_usage"]

DEFAULT_ID = "resp_mock"
DEFAULT_MODEL = "gpt-mock"


def responses_usage(usage: Usage) -> dict[str, Any]:
    """The Responses `usage` object; `input_tokens` includes the cached tokens."""
    prompt = usage.input_tokens + usage.cache_read_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + usage.output_tokens,
    }


def _status(answer: Answer) -> str:
    return "incomplete" if answer.final_stop_reason == "max_tokens" else "completed"


def _response(answer: Answer, status: str, output: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {
        "id": answer.id_or(DEFAULT_ID),
        "object": "response",
        "created_at": answer.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": None,
        "max_output_tokens": None,
        "model": answer.model_or(DEFAULT_MODEL),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": responses_usage(answer.final_usage) if done else None,
        "user": None,
        "metadata": {},
    }


def _reasoning_item(answer: Answer, status: str, summary: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "rs_mock",
        "type": "reasoning",
        "summary": [] if summary is None else [{"type": "summary_text", "text": summary}],
    }
    if answer.thinking_signature:
        item["encrypted_content"] = answer.thinking_signature
    item["status"] = status
    return item


def _message_item(status: str, text: str | None) -> dict[str, Any]:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": "msg_mock", "type": "message", "status": status, "role": "assistant", "content": content}


def _call_item(answer: Answer, index: int, status: str, arguments: str) -> dict[str, Any]:
    call = answer.tool_calls[index]
    return {
        "id": f"fc_mock_{index}",
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": tool_call_id(call, index),
        "name": call.name,
    }


def _output(answer: Answer) -> list[dict[str, Any]]:
    """The final output items: reasoning (when thinking), the message (when text), then function calls."""
    status = _status(answer)
    items: list[dict[str, Any]] = []
    if answer.thinking is not None:
        items.append(_reasoning_item(answer, status, answer.thinking))
    if answer.text or not answer.tool_calls:
        items.append(_message_item(status, answer.text))
    items.extend(_call_item(answer, i, status, c.arguments) for i, c in enumerate(answer.tool_calls))
    return items


def render_response(answer: Answer) -> bytes:
    """The non-streaming `response` JSON body (`incomplete` with `max_output_tokens` when cut short)."""
    return encode_json(_response(answer, _status(answer), _output(answer), done=True))


def render_response_stream(answer: Answer, *, pieces: int = 4) -> list[bytes]:
    """The Responses event stream, one list item per event, each with `event:` and `data:` lines.

    `response.created`, `response.in_progress`; per output item `response.output_item.added`, its parts and
    deltas (reasoning summary, `output_text`, or `function_call_arguments`), `response.output_item.done`;
    finally `response.completed` (or `response.incomplete`) carrying the usage. `sequence_number` counts
    from 0.
    """
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append(sse({"type": kind, "sequence_number": len(events), **fields}, event=kind))

    status = _status(answer)
    emit("response.created", response=_response(answer, "in_progress", [], done=False))
    emit("response.in_progress", response=_response(answer, "in_progress", [], done=False))
    final = _output(answer)
    for out, item in enumerate(final):
        item_id = item["id"]
        where = {"item_id": item_id, "output_index": out}
        if item["type"] == "reasoning":
            emit(
                "response.output_item.added",
                output_index=out,
                item=_reasoning_item(answer, "in_progress", None),
            )
            text = answer.thinking or ""
            part = {"type": "summary_text", "text": text}
            emit("response.reasoning_summary_part.added", **where, summary_index=0, part={**part, "text": ""})
            for piece in split_text(text, pieces):
                emit("response.reasoning_summary_text.delta", **where, summary_index=0, delta=piece)
            emit("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            emit("response.reasoning_summary_part.done", **where, summary_index=0, part=part)
        elif item["type"] == "message":
            emit("response.output_item.added", output_index=out, item=_message_item("in_progress", None))
            part = item["content"][0]
            empty = {**part, "text": ""}
            emit("response.content_part.added", **where, content_index=0, part=empty)
            for piece in split_text(answer.text, pieces):
                emit("response.output_text.delta", **where, content_index=0, delta=piece, logprobs=[])
            emit("response.output_text.done", **where, content_index=0, text=answer.text, logprobs=[])
            emit("response.content_part.done", **where, content_index=0, part=part)
        else:
            index = out - (len(final) - len(answer.tool_calls))
            emit(
                "response.output_item.added",
                output_index=out,
                item=_call_item(answer, index, "in_progress", ""),
            )
            for piece in split_text(item["arguments"], pieces):
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
        emit("response.output_item.done", output_index=out, item=item)
    final_kind = "response.incomplete" if status == "incomplete" else "response.completed"
    emit(final_kind, response=_response(answer, status, final, done=True))
    return events
