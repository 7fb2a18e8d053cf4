"""Upstream Anthropic Messages SSE bytes → `model.StreamEvent`s.

The wire is already block-structured; the event's JSON `type` decides (the `event:` line is
redundant). A block start carrying content (text, tool input) is split into an empty start and a
delta, so every consumer sees content only in deltas. `citations_delta` and unknown event types are
skipped. An `error` event or undecodable JSON → `StreamError`; a stream that ends without
`message_stop` → `StreamError`.
"""

from __future__ import annotations

import msgspec

from lunaroute.errors import UpstreamError
from lunaroute.model import (
    BlockStart,
    BlockStop,
    ErrorInfo,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseBlock,
    Usage,
)

from .._json import Obj
from .._sse import SSEParser
from ._blocks import decode_block
from ._errors import decode_error
from ._mapping import decode_stop_reason, decode_usage

__all__ = ["StreamDecoder"]


class StreamDecoder:
    """Incremental decoder: `feed(bytes)` any number of times, then `finish()`; never raises."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._done = False

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
            self._fail(out, "upstream stream ended before message_stop")
        return out

    def _fail(self, out: list[StreamEvent], message: str) -> None:
        out.append(StreamError(error=ErrorInfo(kind="api_error", message=message, status=502)))
        self._done = True

    def _event(self, data: str, out: list[StreamEvent]) -> None:
        if self._done:
            return
        try:
            event = Obj.of(msgspec.json.decode(data), "event", UpstreamError)
            self._decode(event, out)
        except (msgspec.DecodeError, ValueError, RecursionError):
            self._fail(out, "upstream sent invalid JSON in its stream")
        except UpstreamError as exc:
            self._fail(out, f"upstream sent an unusable stream event: {exc.message}")

    def _decode(self, event: Obj, out: list[StreamEvent]) -> None:
        kind = event.string("type")
        if kind == "message_start":
            message = event.obj("message") or event.fail("message", "is required")
            usage = message.obj("usage")
            out.append(
                MessageStart(
                    id=message.string("id") or "",
                    model=message.string("model") or "",
                    usage=decode_usage(usage) if usage is not None else Usage(),
                )
            )
        elif kind == "content_block_start":
            self._block_start(event, out)
        elif kind == "content_block_delta":
            self._delta(event, out)
        elif kind == "content_block_stop":
            out.append(BlockStop(index=event.integer("index", minimum=0) or 0))
        elif kind == "message_delta":
            delta = event.obj("delta")
            stop = delta.string("stop_reason") if delta is not None else None
            usage = event.obj("usage")
            out.append(
                MessageDelta(
                    stop_reason=decode_stop_reason(stop) if stop is not None else None,
                    stop_sequence=delta.string("stop_sequence") if delta is not None else None,
                    usage=decode_usage(usage) if usage is not None else None,
                )
            )
        elif kind == "message_stop":
            out.append(MessageStop())
            self._done = True
        elif kind == "ping":
            out.append(Ping())
        elif kind == "error":
            error = decode_error(500, msgspec.json.encode(event.value))
            out.append(StreamError(error=error))
            self._done = True

    def _block_start(self, event: Obj, out: list[StreamEvent]) -> None:
        index = event.integer("index", minimum=0) or 0
        wire = event.obj("content_block") or event.fail("content_block", "is required")
        block = decode_block(wire)
        match block:
            case TextBlock(text=text):
                out.append(BlockStart(index=index, block=msgspec.structs.replace(block, text="")))
                if text:
                    out.append(TextDelta(index=index, text=text))
            case ThinkingBlock(thinking=thinking, signature=signature):
                empty = msgspec.structs.replace(block, thinking="", signature=None)
                out.append(BlockStart(index=index, block=empty))
                if thinking:
                    out.append(ThinkingDelta(index=index, thinking=thinking))
                if signature:
                    out.append(SignatureDelta(index=index, signature=signature))
            case ToolUseBlock(input=arguments):
                out.append(BlockStart(index=index, block=msgspec.structs.replace(block, input={})))
                if arguments:
                    out.append(ToolInputDelta(index=index, partial_json=msgspec.json.encode(arguments).decode()))
            case _:
                out.append(BlockStart(index=index, block=block))

    def _delta(self, event: Obj, out: list[StreamEvent]) -> None:
        index = event.integer("index", minimum=0) or 0
        delta = event.obj("delta") or event.fail("delta", "is required")
        kind = delta.string("type")
        if kind == "text_delta":
            out.append(TextDelta(index=index, text=delta.req_str("text")))
        elif kind == "thinking_delta":
            out.append(ThinkingDelta(index=index, thinking=delta.req_str("thinking")))
        elif kind == "signature_delta":
            out.append(SignatureDelta(index=index, signature=delta.req_str("signature")))
        elif kind == "input_json_delta":
            out.append(ToolInputDelta(index=index, partial_json=delta.req_str("partial_json")))
