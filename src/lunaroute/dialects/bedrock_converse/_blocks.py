"""Converse content blocks of an answer → model blocks."""

from __future__ import annotations

import msgspec

from lunaroute.model import (
    Base64Source,
    Block,
    ImageBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UnknownBlock,
)

from .._json import Obj
from ._mapping import media_type_of

__all__ = ["decode_block"]


def decode_block(o: Obj) -> Block:
    """One answer block (a union: exactly one key is set); a kind the model has no type for is kept whole as
    an `UnknownBlock` that no client dialect writes."""
    text = o.string("text")
    if text is not None:
        return TextBlock(text=text)
    tool = o.obj("toolUse")
    if tool is not None:
        arguments = tool.get("input")
        return ToolUseBlock(
            id=tool.req_str("toolUseId"),
            name=tool.req_str("name"),
            input=arguments if isinstance(arguments, dict) else {},
        )
    reasoning = o.obj("reasoningContent")
    if reasoning is not None:
        redacted = reasoning.string("redactedContent")
        if redacted is not None:
            return RedactedThinkingBlock(data=redacted)
        thought = reasoning.obj("reasoningText") or reasoning.fail("reasoningText", "is required")
        return ThinkingBlock(thinking=thought.string("text") or "", signature=thought.string("signature"))
    image = o.obj("image")
    if image is not None:
        source = image.obj("source")
        data = source.string("bytes") if source is not None else None
        if data is not None:
            return ImageBlock(source=Base64Source(media_type=media_type_of(image.req_str("format")), data=data))
    kind = next(iter(o.value), "unknown")
    return UnknownBlock(dialect="bedrock", kind=kind, raw=msgspec.Raw(msgspec.json.encode(o.value)))
