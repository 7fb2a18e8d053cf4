"""Assemble a stream of events into the response a non-streaming call would have returned."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from ._content import Block, RefusalBlock, TextBlock, ThinkingBlock, ToolUseBlock, parse_arguments
from ._response import ErrorInfo, Response, StopReason, Usage
from ._stream import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
)

__all__ = ["Accumulator", "accumulate"]


class _Open:
    """One block being assembled: its start form and the fragments received so far."""

    __slots__ = ("parts", "signature", "start")

    def __init__(self, start: Block) -> None:
        self.start = start
        self.parts: list[str] = []
        self.signature: list[str] | None = None

    def build(self) -> Block:
        start = self.start
        text = "".join(self.parts)
        match start:
            case TextBlock():
                return msgspec.structs.replace(start, text=start.text + text)
            case RefusalBlock():
                return RefusalBlock(text=start.text + text)
            case ThinkingBlock():
                signature = start.signature
                if self.signature is not None:
                    signature = (signature or "") + "".join(self.signature)
                return msgspec.structs.replace(start, thinking=start.thinking + text, signature=signature)
            case ToolUseBlock():
                if not self.parts:
                    return start
                arguments, raw = parse_arguments(text)
                return msgspec.structs.replace(start, input=arguments, raw_arguments=raw)
            case _:
                return start


class Accumulator:
    """Feeds on stream events one at a time; `response()` gives the assembly so far.

    Deltas are matched to blocks by index, so out-of-order or interleaved blocks assemble correctly.
    A `StreamError` is kept in `error`; the content received before it stays available.
    """

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | None = None
        self.usage = Usage()
        self.stop_reason: StopReason | None = None
        self.stop_sequence: str | None = None
        self.error: ErrorInfo | None = None
        self.done = False
        self._blocks: dict[int, _Open] = {}

    def feed(self, event: StreamEvent) -> None:
        match event:
            case MessageStart(id=id_, model=model, usage=usage, created=created):
                self.id, self.model, self.created = id_, model, created
                self.usage = self.usage.merge(usage)
            case BlockStart(index=index, block=block):
                self._blocks[index] = _Open(block)
            case TextDelta(index=index, text=text) | ThinkingDelta(index=index, thinking=text):
                self._open(index).parts.append(text)
            case ToolInputDelta(index=index, partial_json=text):
                self._open(index).parts.append(text)
            case SignatureDelta(index=index, signature=signature):
                pending = self._open(index)
                pending.signature = [*(pending.signature or []), signature]
            case MessageDelta(stop_reason=stop_reason, stop_sequence=stop_sequence, usage=usage):
                if stop_reason is not None:
                    self.stop_reason, self.stop_sequence = stop_reason, stop_sequence
                if usage is not None:
                    self.usage = self.usage.merge(usage)
            case MessageStop():
                self.done = True
            case StreamError(error=error):
                self.error = error
            case BlockStop() | Ping():
                pass

    def _open(self, index: int) -> _Open:
        # A delta for a block that never started: assemble it as text rather than lose it.
        return self._blocks.setdefault(index, _Open(TextBlock(text="")))

    def response(self) -> Response:
        content = tuple(self._blocks[i].build() for i in sorted(self._blocks))
        return Response(
            id=self.id,
            model=self.model,
            content=content,
            stop_reason=self.stop_reason,
            stop_sequence=self.stop_sequence,
            usage=self.usage,
            created=self.created,
        )


def accumulate(events: Iterable[StreamEvent]) -> Response:
    """The response `events` describe; a stream cut short gives what arrived (`stop_reason` None)."""
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    return acc.response()
