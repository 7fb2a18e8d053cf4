"""Upstream Gemini `streamGenerateContent?alt=sse` bytes → block-structured `model.StreamEvent`s.

Every SSE event is a whole `GenerateContentResponse` carrying the next parts of the first candidate. Runs of
thought parts (`"thought": true`) are a thinking block, runs of text parts a text block; a `functionCall`
arrives whole and becomes a tool_use block at once (its arguments in one fragment). Function calls without an
`id` (the Gemini API gives none) get `call_<responseId>_<n>`, so the ids are stable within a response.

A `thoughtSignature` belongs to the thinking that came before the part carrying it: it is sent as the open
thinking block's signature, or as an empty signed thinking block when none is open, so an Anthropic client
returns it and `encode_request` can put it back on the same part.

`finishReason` → `MessageDelta(stop_reason, usage)`; a later usage report → `MessageDelta(usage)`; the end of
the stream → `MessageStop`. A prompt blocked by safety filters (`promptFeedback.blockReason`, no candidates)
and an `error` object are a `StreamError`; so is a stream that ends before any finish reason.
"""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

from lunaroute.model import (
    Base64Source,
    BlockStart,
    BlockStop,
    ErrorInfo,
    ImageBlock,
    MessageDelta,
    MessageStart,
    MessageStop,
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

from .._sse import SSEParser
from ._errors import error_from_payload
from ._mapping import decode_usage, stop_reason
from ._wire import Chunk, Feedback, Part, chunk_decoder

__all__ = ["ChunkReader", "StreamDecoder", "blocked_error"]

_Kind = Literal["thinking", "text"]
_DECODER = chunk_decoder()


def blocked_error(feedback: Feedback) -> ErrorInfo | None:
    """The error for a prompt Gemini refused to answer (`promptFeedback.blockReason`), else None."""
    reason = feedback.block_reason
    if reason is None:
        return None
    detail = feedback.block_reason_message
    message = f"Gemini blocked the prompt (blockReason {reason})" + (f": {detail}" if detail else "")
    return ErrorInfo(kind="invalid_request", message=message, status=400, type="content_blocked", code=reason)


class ChunkReader:
    """Turns `GenerateContentResponse` objects, in order, into stream events (shared by the stream decoder and
    the non-stream decoder, which reads one object)."""

    def __init__(self) -> None:
        self.started = False
        self.finished = False
        self.done = False
        self._next_index = 0
        self._open: tuple[_Kind, int] | None = None
        self._calls = 0
        self._response_id = ""
        self._usage: Usage | None = None

    def chunk(self, chunk: Chunk, out: list[StreamEvent]) -> None:
        if self.done:
            return
        if chunk.error is not None:
            code = chunk.error.get("code")
            status = code if isinstance(code, int) and 400 <= code <= 599 else 500
            out.append(StreamError(error=error_from_payload(status, chunk.error)))
            self.done = True
            return
        if not self.started:
            self._response_id = chunk.response_id or ""
            out.append(MessageStart(id=self._response_id, model=chunk.model_version or ""))
            self.started = True
        usage = chunk.usage_metadata
        if usage is not None:
            self._usage = decode_usage(usage)
        candidates = chunk.candidates
        feedback = chunk.prompt_feedback
        if not candidates and feedback is not None and (blocked := blocked_error(feedback)) is not None:
            out.append(StreamError(error=blocked))
            self.done = True
            return
        if not candidates:
            if usage is not None and self.finished:
                out.append(MessageDelta(usage=self._usage))
            return
        candidate = candidates[0]
        content = candidate.content
        if content is not None and content.parts:
            for part in content.parts:
                self._part(part, out)
        finish = candidate.finish_reason
        if finish is not None and not self.finished:
            self._close(out)
            reason = stop_reason(finish, called_tools=self._calls > 0)
            out.append(MessageDelta(stop_reason=reason, usage=self._usage))
            self.finished = True
        elif usage is not None and self.finished:
            out.append(MessageDelta(usage=self._usage))

    def end(self, out: list[StreamEvent]) -> None:
        """The stream (or body) ended: stop normally after a finish reason, else fail."""
        if self.done:
            return
        if self.finished:
            self._close(out)
            out.append(MessageStop())
        else:
            message = "upstream stream ended before the response finished"
            out.append(StreamError(error=ErrorInfo(kind="api_error", message=message, status=502)))
        self.done = True

    def _part(self, part: Part, out: list[StreamEvent]) -> None:
        signature = part.thought_signature
        text = part.text
        if part.thought:
            index = self._block("thinking", out)
            if text:
                out.append(ThinkingDelta(index=index, thinking=text))
            if signature:
                out.append(SignatureDelta(index=index, signature=signature))
            return
        if signature:
            index = self._block("thinking", out)
            out.append(SignatureDelta(index=index, signature=signature))
            self._close(out)
        call = part.function_call
        if call is not None:
            self._close(out)
            index = self._new_index()
            call_id = call.id or self._call_id()
            self._calls += 1
            out.append(BlockStart(index=index, block=ToolUseBlock(id=call_id, name=call.name or "")))
            out.append(ToolInputDelta(index=index, partial_json=msgspec.json.encode(call.args or {}).decode()))
            out.append(BlockStop(index=index))
            return
        inline = part.inline_data
        if inline is not None:
            self._close(out)
            index = self._new_index()
            source = Base64Source(media_type=inline.mime_type or "", data=inline.data or "")
            out.append(BlockStart(index=index, block=ImageBlock(source=source)))
            out.append(BlockStop(index=index))
            return
        if text:
            index = self._block("text", out)
            out.append(TextDelta(index=index, text=text))

    def _call_id(self) -> str:
        base = self._response_id or uuid.uuid4().hex[:24]
        return f"call_{base}_{self._calls}"

    def _new_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _block(self, kind: _Kind, out: list[StreamEvent]) -> int:
        if self._open is not None and self._open[0] == kind:
            return self._open[1]
        self._close(out)
        index = self._new_index()
        out.append(
            BlockStart(index=index, block=ThinkingBlock(thinking="") if kind == "thinking" else TextBlock(text=""))
        )
        self._open = (kind, index)
        return index

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(index=self._open[1]))
            self._open = None


class StreamDecoder:
    """Incremental decoder: `feed(bytes)` any number of times, then `finish()`; never raises."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._reader = ChunkReader()

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in self._sse.feed(data):
            self._event(sse.data, out)
        return out

    def finish(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in self._sse.finish():
            self._event(sse.data, out)
        self._reader.end(out)
        return out

    def _event(self, data: str, out: list[StreamEvent]) -> None:
        if self._reader.done:
            return
        try:
            chunk = _DECODER.decode(data)
        except msgspec.ValidationError as exc:
            self._fail(out, f"upstream sent an unusable stream chunk: {exc}")
            return
        except (msgspec.DecodeError, ValueError, RecursionError):
            self._fail(out, "upstream sent invalid JSON in its stream")
            return
        self._reader.chunk(chunk, out)

    def _fail(self, out: list[StreamEvent], message: str) -> None:
        out.append(StreamError(error=ErrorInfo(kind="api_error", message=message, status=502)))
        self._reader.done = True
