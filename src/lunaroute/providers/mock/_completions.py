"""OpenAI legacy completions wire: the `text_completion` object and its stream."""

from __future__ import annotations

from typing import Any

from ._answer import Answer
from ._chat import finish_reason, openai_usage
from ._sse import DONE, encode_json, split_text, sse

__all__ = ["render_completion", "render_completion_stream"]

DEFAULT_ID = "cmpl-mock"
DEFAULT_MODEL = "gpt-mock-instruct"


def _head(answer: Answer) -> dict[str, Any]:
    return {
        "id": answer.id_or(DEFAULT_ID),
        "object": "text_completion",
        "created": answer.created,
        "model": answer.model_or(DEFAULT_MODEL),
    }


def render_completion(answer: Answer) -> bytes:
    """The non-streaming `text_completion` JSON body (text only: tool calls and thinking are dropped)."""
    choice = {"text": answer.text, "index": 0, "logprobs": None, "finish_reason": finish_reason(answer)}
    return encode_json({**_head(answer), "choices": [choice], "usage": openai_usage(answer.final_usage)})


def render_completion_stream(answer: Answer, *, pieces: int = 4, include_usage: bool = False) -> list[bytes]:
    """The streamed completion: text pieces, a chunk with the `finish_reason`, the usage chunk when
    `include_usage`, then `data: [DONE]`; one list item per event."""
    head = _head(answer)

    def chunk(text: str, finish: str | None) -> bytes:
        body = {**head, "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            body["usage"] = None
        return sse(body)

    events = [chunk(part, None) for part in split_text(answer.text, pieces)]
    events.append(chunk("", finish_reason(answer)))
    if include_usage:
        events.append(sse({**head, "choices": [], "usage": openai_usage(answer.final_usage)}))
    events.append(DONE)
    return events
