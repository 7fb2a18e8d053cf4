"""OpenAI `chat.completion` body ⇄ `model.Response`.

Only the first choice is kept (a gateway client asking for `n > 1` is answered by passthrough, or
refused on translation). `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter, newer vLLM)
is the thinking block; `logprobs` and `annotations` are not carried.
"""

from __future__ import annotations

import time

import msgspec

from lunaroute.errors import UpstreamError
from lunaroute.model import (
    Block,
    Extras,
    RefusalBlock,
    Response,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UnknownBlock,
    Usage,
)

from .._json import Obj, parse_object, put_extras
from ._decode_request import decode_tool_calls
from ._encode_request import encode_tool_call
from ._mapping import decode_usage, encode_usage, finish_reason, stop_reason

__all__ = ["decode_response", "encode_response"]


def decode_response(body: bytes) -> Response:
    """Decode an upstream's non-streaming answer; raises `UpstreamError` when it is unusable."""
    root = parse_object(body, UpstreamError)
    choices = root.items("choices", required=True)
    if not choices:
        root.fail("choices", "must not be empty")
    choice = choices[0]
    message = choice.obj("message") or choice.fail("message", "is required")
    blocks: list[Block] = []
    reasoning = message.string("reasoning_content")
    if reasoning is None:
        reasoning = message.string("reasoning")
    if reasoning:
        blocks.append(ThinkingBlock(thinking=reasoning))
    content = message.string("content")
    if content:
        blocks.append(TextBlock(text=content))
    refusal = message.string("refusal")
    if refusal:
        blocks.append(RefusalBlock(text=refusal))
    blocks.extend(decode_tool_calls(message))
    finish = choice.string("finish_reason")
    usage = root.obj("usage")
    return Response(
        id=root.string("id") or "",
        model=root.string("model") or "",
        content=tuple(blocks),
        stop_reason=stop_reason(finish) if finish is not None else None,
        usage=decode_usage(usage) if usage is not None else Usage(),
        created=root.integer("created"),
        extra=_extras(root),
    )


def _extras(root: Obj) -> Extras | None:
    root.get("object")
    return root.extras("openai")


def _message(resp: Response) -> dict[str, object]:
    texts: list[str] = []
    reasoning: list[str] = []
    refusal: list[str] = []
    calls: list[object] = []
    for block in resp.content:
        match block:
            case TextBlock(text=text):
                texts.append(text)
            case ThinkingBlock(thinking=thinking):
                reasoning.append(thinking)
            case RefusalBlock(text=text):
                refusal.append(text)
            case ToolUseBlock():
                calls.append(encode_tool_call(block))
            case UnknownBlock(dialect="openai", kind=kind, raw=raw) if kind != "text":
                calls.append(msgspec.json.decode(raw))
    message: dict[str, object] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": "".join(refusal) if refusal else None,
    }
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def encode_response(resp: Response, *, model_name: str | None = None) -> bytes:
    """Encode `resp` as a `chat.completion` object; `model_name` replaces the upstream's model name."""
    out: dict[str, object] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created if resp.created is not None else int(time.time()),
        "model": model_name or resp.model,
        "choices": [
            {
                "index": 0,
                "message": _message(resp),
                "logprobs": None,
                "finish_reason": finish_reason(resp.stop_reason),
            }
        ],
        "usage": encode_usage(resp.usage),
    }
    return msgspec.json.encode(put_extras(out, resp.extra, "openai"))
