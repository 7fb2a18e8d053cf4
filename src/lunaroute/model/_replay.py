"""Turn a complete response into the stream events that would have produced it."""

from __future__ import annotations

import msgspec

from ._content import Block, RefusalBlock, TextBlock, ThinkingBlock, ToolUseBlock
from ._response import Response, Usage
from ._stream import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    SignatureDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
)

__all__ = ["stream_events"]


def _block_events(index: int, block: Block) -> list[StreamEvent]:
    match block:
        case TextBlock(text=text):
            events: list[StreamEvent] = [BlockStart(index=index, block=msgspec.structs.replace(block, text=""))]
            if text:
                events.append(TextDelta(index=index, text=text))
        case RefusalBlock(text=text):
            events = [BlockStart(index=index, block=RefusalBlock(text=""))]
            if text:
                events.append(TextDelta(index=index, text=text))
        case ThinkingBlock(thinking=thinking, signature=signature):
            start = msgspec.structs.replace(block, thinking="", signature=None)
            events = [BlockStart(index=index, block=start)]
            if thinking:
                events.append(ThinkingDelta(index=index, thinking=thinking))
            if signature is not None:
                events.append(SignatureDelta(index=index, signature=signature))
        case ToolUseBlock(input=arguments, raw_arguments=raw):
            empty = msgspec.structs.replace(block, input={}, raw_arguments=None)
            text = raw if raw is not None else msgspec.json.encode(arguments).decode()
            events = [BlockStart(index=index, block=empty), ToolInputDelta(index=index, partial_json=text)]
        case _:
            events = [BlockStart(index=index, block=block)]
    events.append(BlockStop(index=index))
    return events


def stream_events(response: Response) -> list[StreamEvent]:
    """The well-formed event sequence for `response`; `accumulate(stream_events(r)) == r`
    (tool input compared as parsed JSON)."""
    usage = response.usage
    start_usage = Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_creation_tokens=usage.cache_creation_tokens,
    )
    events: list[StreamEvent] = [
        MessageStart(id=response.id, model=response.model, usage=start_usage, created=response.created)
    ]
    for index, block in enumerate(response.content):
        events.extend(_block_events(index, block))
    events.append(MessageDelta(stop_reason=response.stop_reason, stop_sequence=response.stop_sequence, usage=usage))
    events.append(MessageStop())
    return events
