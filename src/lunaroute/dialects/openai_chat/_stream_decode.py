"""Upstream OpenAI Chat SSE bytes → block-structured `model.StreamEvent`s.

OpenAI chunks are not block-structured, so blocks are synthesized: a run of `reasoning_content`
(or `reasoning`) deltas is a thinking block, a run of `content` a text block, a run of `refusal` a
refusal block, each `tool_calls[].index` a tool_use block (opened with its id and name, then its
argument fragments). A block is closed when a delta for another block arrives or the choice
finishes. A fragment for an already-closed tool call (interleaved calls, rare) is delivered with
that call's block index, which `accumulate` and index-keyed clients assemble correctly.

`finish_reason` → `MessageDelta(stop_reason)`; the usage chunk → `MessageDelta(usage)`;
`[DONE]` → `MessageStop`. An `{"error": ...}` chunk or undecodable JSON → `StreamError`. A stream
that ends without `[DONE]` stops normally if a finish reason arrived, else with a `StreamError`.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from lunaroute.errors import UpstreamError
from lunaroute.model import (
    Block,
    BlockStart,
    BlockStop,
    ErrorInfo,
    MessageDelta,
    MessageStart,
    MessageStop,
    RefusalBlock,
    StreamError,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseBlock,
)

from .._json import Obj
from .._sse import SSEParser
from ._errors import decode_error
from ._mapping import decode_usage, stop_reason

__all__ = ["StreamDecoder"]

_Kind = Literal["thinking", "text", "refusal"]


class StreamDecoder:
    """Incremental decoder: `feed(bytes)` any number of times, then `finish()`; never raises."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._started = False
        self._done = False
        self._finished = False
        self._next_index = 0
        self._open: tuple[_Kind, int] | tuple[Literal["tool"], int, int] | None = None
        self._tools: dict[int, int] = {}

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in self._sse.feed(data):
            self._event(sse.data, out)
        return out

    def finish(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in self._sse.finish():
            self._event(sse.data, out)
        if not self._done:
            if self._finished:
                self._stop(out)
            else:
                self._fail(out, "upstream stream ended before the response finished")
        return out

    def _fail(self, out: list[StreamEvent], message: str) -> None:
        out.append(StreamError(error=ErrorInfo(kind="api_error", message=message, status=502)))
        self._done = True

    def _stop(self, out: list[StreamEvent]) -> None:
        self._close(out)
        out.append(MessageStop())
        self._done = True

    def _event(self, data: str, out: list[StreamEvent]) -> None:
        if self._done:
            return
        if data.strip() == "[DONE]":
            self._stop(out)
            return
        try:
            chunk = Obj.of(msgspec.json.decode(data), "chunk", UpstreamError)
        except (msgspec.DecodeError, ValueError, RecursionError):
            self._fail(out, "upstream sent invalid JSON in its stream")
            return
        except UpstreamError:
            self._fail(out, "upstream sent a stream chunk that is not an object")
            return
        try:
            self._chunk(chunk, out)
        except UpstreamError as exc:
            self._fail(out, f"upstream sent an unusable stream chunk: {exc.message}")

    def _chunk(self, chunk: Obj, out: list[StreamEvent]) -> None:
        if chunk.has("error"):
            error = decode_error(500, msgspec.json.encode({"error": chunk.get("error")}))
            out.append(StreamError(error=error))
            self._done = True
            return
        if not self._started:
            out.append(
                MessageStart(
                    id=chunk.string("id") or "",
                    model=chunk.string("model") or "",
                    created=chunk.integer("created"),
                )
            )
            self._started = True
        for choice in chunk.items("choices"):
            if (choice.integer("index") or 0) != 0:
                continue
            delta = choice.obj("delta")
            if delta is not None:
                self._delta(delta, out)
            finish = choice.string("finish_reason")
            if finish is not None and not self._finished:
                self._close(out)
                out.append(MessageDelta(stop_reason=stop_reason(finish)))
                self._finished = True
        usage = chunk.obj("usage")
        if usage is not None:
            out.append(MessageDelta(usage=decode_usage(usage)))

    def _delta(self, delta: Obj, out: list[StreamEvent]) -> None:
        reasoning = delta.string("reasoning_content")
        if reasoning is None:
            reasoning = delta.string("reasoning")
        if reasoning:
            index = self._text_block("thinking", ThinkingBlock(thinking=""), out)
            out.append(ThinkingDelta(index=index, thinking=reasoning))
        content = delta.string("content")
        if content:
            index = self._text_block("text", TextBlock(text=""), out)
            out.append(TextDelta(index=index, text=content))
        refusal = delta.string("refusal")
        if refusal:
            index = self._text_block("refusal", RefusalBlock(text=""), out)
            out.append(TextDelta(index=index, text=refusal))
        for position, call in enumerate(delta.items("tool_calls")):
            self._tool_call(position, call, out)

    def _text_block(self, kind: _Kind, empty: Block, out: list[StreamEvent]) -> int:
        if self._open is not None and self._open[0] == kind:
            return self._open[1]
        self._close(out)
        index = self._next_index
        self._next_index += 1
        out.append(BlockStart(index=index, block=empty))
        self._open = (kind, index)
        return index

    def _tool_call(self, position: int, call: Obj, out: list[StreamEvent]) -> None:
        wire_index = call.integer("index")
        if wire_index is None:
            wire_index = len(self._tools) if call.has("id") else max(self._tools, default=position)
        function = call.obj("function")
        fragment = function.string("arguments") if function is not None else None
        if wire_index not in self._tools:
            self._close(out)
            index = self._next_index
            self._next_index += 1
            name = function.string("name") if function is not None else None
            block = ToolUseBlock(id=call.string("id") or f"call_{index}", name=name or "")
            out.append(BlockStart(index=index, block=block))
            self._tools[wire_index] = index
            self._open = ("tool", index, wire_index)
        index = self._tools[wire_index]
        if self._open is not None and self._open[0] != "tool":
            self._close(out)
        if fragment:
            out.append(ToolInputDelta(index=index, partial_json=fragment))

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(index=self._open[1]))
            self._open = None
