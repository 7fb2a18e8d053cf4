"""Upstream Responses API event stream → block-structured `model.StreamEvent`s.

`response.created` → `MessageStart`. Blocks open as items and parts do: a `reasoning` item is a thinking
block (summary and `reasoning_text` deltas, parts joined by blank lines as in `decode_response`; its
`encrypted_content` arrives as a `SignatureDelta` when the item is done), each `output_text` or `refusal`
part of a `message` a text or refusal block, a `function_call` item a tool_use block (its argument deltas;
the item's `arguments` when no delta came). Any other item is an `UnknownBlock`, sent whole when done.
`response.completed`/`response.incomplete` → `MessageDelta` (stop reason, usage) and `MessageStop`;
`response.failed`, an `error` event or undecodable JSON → `StreamError`. A stream that ends without its
terminal event ends with a `StreamError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from lunaroute.errors import UpstreamError
from lunaroute.model import (
    Block,
    BlockStart,
    BlockStop,
    ErrorInfo,
    ErrorKind,
    MessageDelta,
    MessageStart,
    MessageStop,
    RefusalBlock,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseBlock,
    UnknownBlock,
    Usage,
)

from .._json import Obj
from .._sse import SSEParser
from ._decode_request import decode_reasoning
from ._mapping import REDACTED_PREFIX, decode_usage, stop_reason_for

__all__ = ["StreamDecoder"]


@dataclass(slots=True)
class _Block:
    """An open block: its index, and what arrived (text pieces, part keys seen) for completing it at `done`."""

    index: int
    text: list[str] = field(default_factory=list)
    parts: set[tuple[str, int]] = field(default_factory=set)


class StreamDecoder:
    """Incremental decoder: `feed(bytes)` any number of times, then `finish()`; never raises."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._done = False
        self._started = False
        self._next = 0
        self._items: dict[int, _Block] = {}
        self._parts: dict[tuple[int, int], _Block] = {}
        self._calls = False

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
            self._fail(
                out,
                ErrorInfo(kind="api_error", message="upstream stream ended before the response finished", status=502),
            )
        return out

    def _fail(self, out: list[StreamEvent], error: ErrorInfo) -> None:
        out.append(StreamError(error=error))
        self._done = True

    def _event(self, data: str, out: list[StreamEvent]) -> None:
        if self._done or data.strip() == "[DONE]":
            return
        try:
            event = Obj.of(msgspec.json.decode(data), "event", UpstreamError)
            self._dispatch(event, out)
        except (msgspec.DecodeError, ValueError, RecursionError, UpstreamError):
            self._fail(out, ErrorInfo(kind="api_error", message="upstream sent an invalid Responses event", status=502))

    def _open(self, out: list[StreamEvent], start: TextBlock | RefusalBlock | ThinkingBlock | ToolUseBlock) -> _Block:
        block = _Block(self._next)
        self._next += 1
        out.append(BlockStart(index=block.index, block=start))
        return block

    def _delta(self, out: list[StreamEvent], block: _Block, key: tuple[str, int], text: str, *, thinking: bool) -> None:
        if thinking and key not in block.parts and block.parts:
            text = "\n\n" + text
        block.parts.add(key)
        block.text.append(text)
        out.append(
            ThinkingDelta(index=block.index, thinking=text) if thinking else TextDelta(index=block.index, text=text)
        )

    def _dispatch(self, event: Obj, out: list[StreamEvent]) -> None:
        kind = event.string("type")
        if not self._started and kind in ("response.created", "response.in_progress"):
            self._start(event, out)
            return
        if kind == "response.output_item.added":
            self._item_added(event, out)
        elif kind == "response.content_part.added":
            part = event.obj("part")
            part_kind = part.string("type") if part is not None else None
            if part_kind in ("output_text", "refusal"):
                start = TextBlock(text="") if part_kind == "output_text" else RefusalBlock(text="")
                where = (event.integer("output_index") or 0, event.integer("content_index") or 0)
                self._parts[where] = self._open(out, start)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            where = (event.integer("output_index") or 0, event.integer("content_index") or 0)
            if where in self._parts:
                self._delta(out, self._parts[where], ("text", 0), event.string("delta") or "", thinking=False)
        elif kind == "response.content_part.done":
            self._part_done(event, out)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            block = self._items.get(event.integer("output_index") or 0)
            if block is not None:
                summary = kind == "response.reasoning_summary_text.delta"
                key = (
                    ("summary", event.integer("summary_index") or 0)
                    if summary
                    else ("content", event.integer("content_index") or 0)
                )
                self._delta(out, block, key, event.string("delta") or "", thinking=True)
        elif kind == "response.function_call_arguments.delta":
            block = self._items.get(event.integer("output_index") or 0)
            if block is not None:
                fragment = event.string("delta") or ""
                block.text.append(fragment)
                out.append(ToolInputDelta(index=block.index, partial_json=fragment))
        elif kind == "response.output_item.done":
            self._item_done(event, out)
        elif kind in ("response.completed", "response.incomplete"):
            self._complete(event, out)
        elif kind == "response.failed":
            response = event.obj("response")
            error = response.obj("error") if response is not None else None
            self._fail(out, _error(error, "the upstream response failed"))
        elif kind == "error":
            self._fail(out, _error(event, "the upstream stream failed"))

    def _start(self, event: Obj, out: list[StreamEvent]) -> None:
        self._started = True
        response = event.obj("response")
        if response is None:
            event.fail("response", "is required")
        out.append(
            MessageStart(
                id=response.string("id") or "",
                model=response.string("model") or "",
                created=response.integer("created_at"),
            )
        )

    def _item_added(self, event: Obj, out: list[StreamEvent]) -> None:
        item = event.obj("item") or event.fail("item", "is required")
        position = event.integer("output_index") or 0
        kind = item.string("type")
        if kind == "reasoning" and not _redacted(item):
            self._items[position] = self._open(out, ThinkingBlock(thinking=""))
        elif kind == "function_call":
            self._calls = True
            start = ToolUseBlock(id=item.req_str("call_id"), name=item.req_str("name"))
            self._items[position] = self._open(out, start)

    def _part_done(self, event: Obj, out: list[StreamEvent]) -> None:
        key = (event.integer("output_index") or 0, event.integer("content_index") or 0)
        block = self._parts.pop(key, None)
        if block is None:
            return
        part = event.obj("part")
        final = (part.string("text") or part.string("refusal") or "") if part is not None else ""
        so_far = "".join(block.text)
        if len(final) > len(so_far) and final.startswith(so_far):
            out.append(TextDelta(index=block.index, text=final[len(so_far) :]))
        out.append(BlockStop(index=block.index))

    def _item_done(self, event: Obj, out: list[StreamEvent]) -> None:
        item = event.obj("item") or event.fail("item", "is required")
        position = event.integer("output_index") or 0
        kind = item.string("type")
        block = self._items.pop(position, None)
        if kind == "message":
            for key in [k for k in self._parts if k[0] == position]:
                out.append(BlockStop(index=self._parts.pop(key).index))
            return
        if block is None:
            whole: Block | None = None
            if kind == "reasoning" and _redacted(item):
                whole = decode_reasoning(item)
            elif kind not in ("function_call", "reasoning"):
                raw = msgspec.Raw(msgspec.json.encode(item.value))
                whole = UnknownBlock(dialect="openai_responses", kind=kind or "unknown", raw=raw)
            if whole is not None:
                index = self._next
                self._next += 1
                out += [BlockStart(index=index, block=whole), BlockStop(index=index)]
            return
        if kind == "reasoning":
            if not block.text:
                texts = [s.string("text") or "" for s in item.items("summary")]
                if any(texts):
                    out.append(ThinkingDelta(index=block.index, thinking="\n\n".join(texts)))
            signature = item.string("encrypted_content")
            if signature is not None:
                out.append(SignatureDelta(index=block.index, signature=signature))
        elif kind == "function_call" and not block.text:
            arguments = item.string("arguments")
            if arguments:
                out.append(ToolInputDelta(index=block.index, partial_json=arguments))
        out.append(BlockStop(index=block.index))

    def _complete(self, event: Obj, out: list[StreamEvent]) -> None:
        for block in [*self._parts.values(), *self._items.values()]:
            out.append(BlockStop(index=block.index))
        self._parts.clear()
        self._items.clear()
        response = event.obj("response") or event.fail("response", "is required")
        details = response.obj("incomplete_details")
        usage = response.obj("usage")
        reason = stop_reason_for(
            response.string("status"),
            details.string("reason") if details is not None else None,
            calls_tools=self._calls,
        )
        out.append(MessageDelta(stop_reason=reason, usage=decode_usage(usage) if usage is not None else Usage()))
        out.append(MessageStop())
        self._done = True


def _redacted(item: Obj) -> bool:
    encrypted = item.value.get("encrypted_content")
    return isinstance(encrypted, str) and encrypted.startswith(REDACTED_PREFIX)


def _error(error: Obj | None, fallback: str) -> ErrorInfo:
    message = (error.string("message") if error is not None else None) or fallback
    code = error.value.get("code") if error is not None else None
    code_text = code if isinstance(code, str) else None
    kind: ErrorKind = "rate_limit" if code_text == "rate_limit_exceeded" else "api_error"
    return ErrorInfo(kind=kind, message=message, status=429 if kind == "rate_limit" else 502, code=code_text)
