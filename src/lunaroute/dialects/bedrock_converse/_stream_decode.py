"""Upstream Converse stream bytes (`application/vnd.amazon.eventstream`) → `model.StreamEvent`s.

The binary framing (prelude, headers, CRCs) is parsed by botocore's `EventStreamBuffer`; each message's
`:event-type` header names its JSON payload. Converse is block-structured already: `contentBlockStart` opens a
tool call, a text or reasoning block opens with its first delta, `contentBlockStop` closes it. `messageStop`
→ `MessageDelta(stop_reason)`; the `metadata` event that follows (usage) → `MessageDelta(usage)` and
`MessageStop`. An exception message (`throttlingException`, ...), a broken frame or undecodable JSON →
`StreamError`; a stream that ends after `messageStop` without `metadata` stops normally, one that ends before
it with a `StreamError`.
"""

from __future__ import annotations

import msgspec
from botocore.eventstream import EventStreamBuffer, ParserError

from lunaroute.errors import UpstreamError
from lunaroute.model import (
    BlockStart,
    BlockStop,
    ErrorInfo,
    MessageDelta,
    MessageStart,
    MessageStop,
    RedactedThinkingBlock,
    SignatureDelta,
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
from ._errors import error_info, kind_for_exception
from ._mapping import decode_stop_reason, decode_usage
from ._response import new_message_id

__all__ = ["StreamDecoder"]


class StreamDecoder:
    """Incremental decoder: `feed(bytes)` any number of times, then `finish()`; never raises."""

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._started = False
        self._stopped = False
        self._done = False
        self._open: set[int] = set()

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self._done:
            return out
        self._buffer.add_data(data)
        try:
            for message in self._buffer:
                self._message(message.headers, message.payload, out)
                if self._done:
                    break
        except ParserError as exc:
            self._fail(out, f"upstream sent a broken event-stream frame: {exc}")
        return out

    def finish(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self._done:
            return out
        if self._stopped:
            self._close_blocks(out)
            out.append(MessageStop())
            self._done = True
        else:
            self._fail(out, "upstream stream ended before messageStop")
        return out

    def _fail(self, out: list[StreamEvent], message: str, error: ErrorInfo | None = None) -> None:
        out.append(StreamError(error=error or ErrorInfo(kind="api_error", message=message, status=502)))
        self._done = True

    def _message(self, headers: dict[str, object], payload: bytes, out: list[StreamEvent]) -> None:
        message_type = headers.get(":message-type")
        if message_type in ("exception", "error"):
            name = headers.get(":exception-type") or headers.get(":error-code") or "InternalServerException"
            self._fail(out, "", self._exception(str(name), payload))
            return
        try:
            event = Obj.of(msgspec.json.decode(payload), "event", UpstreamError)
            self._event(str(headers.get(":event-type", "")), event, out)
        except (msgspec.DecodeError, ValueError, RecursionError):
            self._fail(out, "upstream sent invalid JSON in its stream")
        except UpstreamError as exc:
            self._fail(out, f"upstream sent an unusable stream event: {exc.message}")

    @staticmethod
    def _exception(name: str, payload: bytes) -> ErrorInfo:
        kind = kind_for_exception(name)
        try:
            body = msgspec.json.decode(payload)
        except (msgspec.DecodeError, ValueError, RecursionError):
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        text = message if isinstance(message, str) else name
        status = {"rate_limit": 429, "overloaded": 503, "invalid_request": 400}.get(kind, 500)
        return error_info(kind, text, status, name)

    def _start(self, out: list[StreamEvent]) -> None:
        if not self._started:
            self._started = True
            out.append(MessageStart(id=new_message_id(), model=""))

    def _event(self, kind: str, event: Obj, out: list[StreamEvent]) -> None:
        if kind == "messageStart":
            self._start(out)
            return
        self._start(out)
        if kind == "contentBlockStart":
            index = event.integer("contentBlockIndex", minimum=0) or 0
            start = event.obj("start") or event.fail("start", "is required")
            tool = start.obj("toolUse")
            if tool is not None and index not in self._open:
                self._open.add(index)
                block = ToolUseBlock(id=tool.req_str("toolUseId"), name=tool.req_str("name"))
                out.append(BlockStart(index=index, block=block))
        elif kind == "contentBlockDelta":
            self._delta(event, out)
        elif kind == "contentBlockStop":
            index = event.integer("contentBlockIndex", minimum=0) or 0
            if index in self._open:
                self._open.discard(index)
                out.append(BlockStop(index=index))
        elif kind == "messageStop":
            self._close_blocks(out)
            stop = event.string("stopReason")
            out.append(MessageDelta(stop_reason=decode_stop_reason(stop) if stop is not None else "end_turn"))
            self._stopped = True
        elif kind == "metadata":
            usage = event.obj("usage")
            if usage is not None:
                out.append(MessageDelta(usage=decode_usage(usage)))
            if self._stopped:
                out.append(MessageStop())
                self._done = True

    def _close_blocks(self, out: list[StreamEvent]) -> None:
        for index in sorted(self._open):
            out.append(BlockStop(index=index))
        self._open.clear()

    def _delta(self, event: Obj, out: list[StreamEvent]) -> None:
        index = event.integer("contentBlockIndex", minimum=0) or 0
        delta = event.obj("delta") or event.fail("delta", "is required")
        text = delta.string("text")
        if text is not None:
            self._open_block(index, TextBlock(text=""), out)
            out.append(TextDelta(index=index, text=text))
            return
        tool = delta.obj("toolUse")
        if tool is not None:
            if index in self._open:
                out.append(ToolInputDelta(index=index, partial_json=tool.string("input") or ""))
            return
        reasoning = delta.obj("reasoningContent")
        if reasoning is None:
            return
        redacted = reasoning.string("redactedContent")
        if redacted is not None:
            self._open_block(index, RedactedThinkingBlock(data=redacted), out)
            return
        self._open_block(index, ThinkingBlock(thinking=""), out)
        thought = reasoning.string("text")
        if thought:
            out.append(ThinkingDelta(index=index, thinking=thought))
        signature = reasoning.string("signature")
        if signature:
            out.append(SignatureDelta(index=index, signature=signature))

    def _open_block(
        self, index: int, block: TextBlock | ThinkingBlock | RedactedThinkingBlock, out: list[StreamEvent]
    ) -> None:
        if index not in self._open:
            self._open.add(index)
            out.append(BlockStart(index=index, block=block))
