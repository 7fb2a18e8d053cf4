"""Responses API `response` object ⇄ `model.Response`.

Output items map to blocks in order: a `message` gives a text block per `output_text` part and a refusal
block per `refusal` part; `reasoning` a thinking block (see `decode_reasoning`); `function_call` a tool_use
block (id = `call_id`); any other item is an `UnknownBlock`. Encoding gathers consecutive text and refusal
blocks into one `message` item, and names items that have no id after the response (`msg_<id>_<n>`, ...).

`status` maps to the stop reason (see `_mapping.status_for`); a `failed` response is an `UpstreamError`.
The request fields a response repeats (`instructions`, `tools`, `metadata`, ...) come from `echo`, the
client's own request (`request_echo`), so a client sees what it asked for.
"""

from __future__ import annotations

import time
from typing import Final

import msgspec

from lunaroute.dialects.passthrough import top_level
from lunaroute.errors import UpstreamError
from lunaroute.model import (
    Block,
    Extras,
    RedactedThinkingBlock,
    RefusalBlock,
    Response,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UnknownBlock,
    Usage,
    parse_arguments,
)

from .._json import Obj, parse_object, put_extras
from ._custom import custom_input
from ._decode_request import decode_reasoning
from ._mapping import REDACTED_PREFIX, decode_usage, encode_usage, item_id, status_for, stop_reason_for

__all__ = [
    "DEFAULT_ECHO",
    "Echo",
    "decode_output_item",
    "decode_response",
    "encode_output",
    "encode_response",
    "has_item",
    "message_item",
    "output_item",
    "request_echo",
    "response_object",
]

Json = dict[str, object]
Echo = dict[str, msgspec.Raw]

_ECHOED: Final = (
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt_cache_key",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
)
_NULL = msgspec.Raw(b"null")
DEFAULT_ECHO: Final[Echo] = {
    "instructions": _NULL,
    "max_output_tokens": _NULL,
    "metadata": msgspec.Raw(b"{}"),
    "parallel_tool_calls": msgspec.Raw(b"true"),
    "previous_response_id": _NULL,
    "reasoning": msgspec.Raw(b'{"effort":null,"summary":null}'),
    "store": msgspec.Raw(b"true"),
    "temperature": msgspec.Raw(b"1.0"),
    "text": msgspec.Raw(b'{"format":{"type":"text"}}'),
    "tool_choice": msgspec.Raw(b'"auto"'),
    "tools": msgspec.Raw(b"[]"),
    "top_p": msgspec.Raw(b"1.0"),
    "truncation": msgspec.Raw(b'"disabled"'),
    "user": _NULL,
}
"""What a response repeats when the request did not say."""


def request_echo(body: bytes) -> Echo:
    """The request fields a Response object repeats, as the client sent them, over `DEFAULT_ECHO`."""
    sent = top_level(body)
    return {**DEFAULT_ECHO, **{k: v for k, v in sent.items() if k in _ECHOED}}


def _message_blocks(item: Obj) -> list[Block]:
    item.get("id")
    item.get("status")
    item.get("role")
    blocks: list[Block] = []
    for part in item.items("content"):
        kind = part.string("type")
        if kind == "output_text":
            part.get("annotations")
            part.get("logprobs")
            blocks.append(TextBlock(text=part.req_str("text"), extra=part.extras("openai_responses")))
        elif kind == "refusal":
            blocks.append(RefusalBlock(text=part.req_str("refusal")))
        else:
            raw = msgspec.Raw(msgspec.json.encode(part.value))
            blocks.append(UnknownBlock(dialect="openai_responses", kind=kind or "unknown", raw=raw))
    return blocks


def decode_output_item(item: Obj) -> list[Block]:
    """One output item as blocks."""
    kind = item.string("type")
    if kind == "message":
        return _message_blocks(item)
    if kind == "reasoning":
        return [decode_reasoning(item)]
    if kind == "function_call":
        item.get("id")
        item.get("status")
        arguments, raw = parse_arguments(item.string("arguments") or "")
        return [ToolUseBlock(id=item.req_str("call_id"), name=item.req_str("name"), input=arguments, raw_arguments=raw)]
    raw_item = msgspec.Raw(msgspec.json.encode(item.value))
    return [UnknownBlock(dialect="openai_responses", kind=kind or "unknown", raw=raw_item)]


def decode_response(body: bytes) -> Response:
    """Decode an upstream's non-streaming answer; raises `UpstreamError` when it is unusable or `failed`."""
    root = parse_object(body, UpstreamError)
    status = root.string("status")
    if status == "failed":
        error = root.obj("error")
        message = (error.string("message") if error is not None else None) or "the upstream response failed"
        raise UpstreamError(message)
    blocks: list[Block] = []
    for item in root.items("output", required=True):
        blocks.extend(decode_output_item(item))
    details = root.obj("incomplete_details")
    incomplete = details.string("reason") if details is not None else None
    usage = root.obj("usage")
    calls = any(isinstance(b, ToolUseBlock) for b in blocks)
    for key in ("object", "error", "background", *_ECHOED):
        root.get(key)
    return Response(
        id=root.string("id") or "",
        model=root.string("model") or "",
        content=tuple(blocks),
        stop_reason=stop_reason_for(status, incomplete, calls_tools=calls),
        usage=decode_usage(usage) if usage is not None else Usage(),
        created=root.integer("created_at"),
        extra=_extras(root),
    )


def _extras(root: Obj) -> Extras | None:
    return root.extras("openai_responses")


def _part(block: TextBlock | RefusalBlock) -> Json:
    if isinstance(block, RefusalBlock):
        return {"type": "refusal", "refusal": block.text}
    return put_extras(
        {"type": "output_text", "text": block.text, "annotations": [], "logprobs": []}, block.extra, "openai_responses"
    )


def output_item(
    block: Block, response_id: str, index: int, status: str = "completed", custom: frozenset[str] = frozenset()
) -> Json:
    """The output item of one non-text block at output position `index` (`custom`: the custom tools' names)."""
    match block:
        case ToolUseBlock(id=call_id, name=name) if name in custom:
            ctc = item_id("ctc", response_id, index)
            text = custom_input(block)
            return {
                "id": ctc,
                "type": "custom_tool_call",
                "status": status,
                "call_id": call_id,
                "name": name,
                "input": text,
            }
        case ThinkingBlock(thinking=thinking, signature=signature):
            summary = [{"type": "summary_text", "text": thinking}] if thinking else []
            item: Json = {"id": item_id("rs", response_id, index), "type": "reasoning", "summary": summary}
            if signature is not None:
                item["encrypted_content"] = signature
            return item
        case RedactedThinkingBlock(data=data):
            rs = item_id("rs", response_id, index)
            return {"id": rs, "type": "reasoning", "summary": [], "encrypted_content": REDACTED_PREFIX + data}
        case ToolUseBlock(id=call_id, name=name, input=arguments, raw_arguments=raw):
            text = raw if raw is not None else msgspec.json.encode(arguments).decode()
            fc = item_id("fc", response_id, index)
            return {
                "id": fc,
                "type": "function_call",
                "status": status,
                "arguments": text,
                "call_id": call_id,
                "name": name,
            }
        case UnknownBlock(dialect="openai_responses", raw=raw):
            return msgspec.json.decode(raw)  # type: ignore[no-any-return]
    raise AssertionError(f"not an output item block: {block!r}")


def has_item(block: Block) -> bool:
    """Whether `block` is written as an output item: blocks of another dialect's own kinds are not."""
    return not isinstance(block, UnknownBlock) or block.dialect == "openai_responses"


def message_item(response_id: str, index: int, parts: list[Json], status: str = "completed") -> Json:
    msg = item_id("msg", response_id, index)
    return {"id": msg, "type": "message", "status": status, "role": "assistant", "content": parts}


def encode_output(resp: Response, custom: frozenset[str] = frozenset()) -> list[Json]:
    """The output items of `resp`: consecutive text and refusal blocks share one `message` item."""
    items: list[Json] = []
    parts: list[Json] = []
    for block in resp.content:
        if not has_item(block):
            continue
        if isinstance(block, TextBlock | RefusalBlock):
            parts.append(_part(block))
            continue
        if parts:
            items.append(message_item(resp.id, len(items), parts))
            parts = []
        items.append(output_item(block, resp.id, len(items), custom=custom))
    if parts:
        items.append(message_item(resp.id, len(items), parts))
    return items


def response_object(
    resp: Response, *, model_name: str | None, echo: Echo | None, status: str, output: list[Json], usage: bool
) -> Json:
    """The `response` object around `output` (also the payload of the stream's lifecycle events)."""
    reason = status_for(resp.stop_reason)[1] if status == "incomplete" else None
    out: Json = {
        "id": resp.id,
        "object": "response",
        "created_at": resp.created if resp.created is not None else int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if reason is not None else None,
        "model": model_name or resp.model,
        "output": output,
        **(echo if echo is not None else DEFAULT_ECHO),
        "usage": encode_usage(resp.usage) if usage else None,
    }
    return put_extras(out, resp.extra, "openai_responses")


def encode_response(
    resp: Response, *, model_name: str | None = None, echo: Echo | None = None, custom: frozenset[str] = frozenset()
) -> bytes:
    """Encode `resp` as a complete `response` object; `model_name` replaces the upstream's model name, calls of
    the `custom` tools are `custom_tool_call` items."""
    status = status_for(resp.stop_reason)[0]
    body = response_object(
        resp, model_name=model_name, echo=echo, status=status, output=encode_output(resp, custom), usage=True
    )
    return msgspec.json.encode(body)
