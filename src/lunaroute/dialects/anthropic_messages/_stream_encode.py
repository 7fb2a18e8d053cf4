"""`model.StreamEvent`s → Anthropic Messages SSE bytes for a client.

`message_start` first (synthesized if the upstream's start did not come first), then per block
`content_block_start` / `content_block_delta` (`text_delta`, `thinking_delta`, `signature_delta`,
`input_json_delta`) / `content_block_stop`, renumbered densely in the order blocks start. The stop
reason and usage reports are combined into one `message_delta` sent just before `message_stop`
(OpenAI upstreams report usage after the finish reason). Refusal text is a text block; blocks of
the other dialect with no Anthropic form are skipped. A thinking block that never received a
signature gets an empty `signature_delta` before it stops. A `StreamError` becomes `event: error`
and ends the stream: later events produce nothing.
"""

from __future__ import annotations

import msgspec

from lunaroute.model import (
    BlockStart,
    BlockStop,
    ErrorInfo,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolInputDelta,
    Usage,
)

from .._sse import sse_frame
from ._blocks import encode_block
from ._errors import error_payload
from ._mapping import encode_stop_reason, encode_usage

__all__ = ["StreamEncoder"]


def _frame(kind: str, payload: dict[str, object]) -> bytes:
    return sse_frame(msgspec.json.encode({"type": kind, **payload}), kind)


class StreamEncoder:
    """Encodes one response stream; `encode(event)` per event, then `finish()`.

    `model_name` replaces the upstream's model name. Anthropic streams always report usage, so
    `include_usage` is accepted for symmetry and ignored.
    """

    def __init__(self, *, model_name: str | None = None, include_usage: bool = True) -> None:
        del include_usage
        self._model = model_name
        self._started = False
        self._done = False
        self._indexes: dict[int, int] = {}
        self._unsigned: set[int] = set()
        self._stop_reason: StopReason | None = None
        self._stop_sequence: str | None = None
        self._usage = Usage()

    def _start(self, id_: str = "", model: str = "", usage: Usage | None = None) -> bytes:
        self._started = True
        message: dict[str, object] = {
            "id": id_,
            "type": "message",
            "role": "assistant",
            "model": self._model or model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": encode_usage(usage or Usage()),
        }
        return _frame("message_start", {"message": message})

    def encode(self, event: StreamEvent) -> bytes:
        if self._done:
            return b""
        if isinstance(event, MessageStart):
            if self._started:
                return b""
            self._usage = self._usage.merge(event.usage)
            return self._start(event.id, event.model, event.usage)
        if isinstance(event, StreamError):
            return self._error(event.error)
        head = b"" if self._started or isinstance(event, Ping) else self._start()
        return head + self._event(event)

    def _event(self, event: StreamEvent) -> bytes:
        match event:
            case BlockStart(index=index, block=block):
                wire = encode_block(block, request=False, assistant=True)
                if wire is None:
                    return b""
                wire_index = self._indexes[index] = len(self._indexes)
                if isinstance(block, ThinkingBlock):
                    self._unsigned.add(index)
                return _frame("content_block_start", {"index": wire_index, "content_block": wire})
            case TextDelta(index=index, text=text) if index in self._indexes:
                return self._delta(index, {"type": "text_delta", "text": text})
            case ThinkingDelta(index=index, thinking=thinking) if index in self._indexes:
                return self._delta(index, {"type": "thinking_delta", "thinking": thinking})
            case SignatureDelta(index=index, signature=signature) if index in self._indexes:
                self._unsigned.discard(index)
                return self._delta(index, {"type": "signature_delta", "signature": signature})
            case ToolInputDelta(index=index, partial_json=fragment) if index in self._indexes:
                return self._delta(index, {"type": "input_json_delta", "partial_json": fragment})
            case BlockStop(index=index) if index in self._indexes:
                out = b""
                if index in self._unsigned:
                    self._unsigned.discard(index)
                    out = self._delta(index, {"type": "signature_delta", "signature": ""})
                return out + _frame("content_block_stop", {"index": self._indexes[index]})
            case MessageDelta(stop_reason=reason, stop_sequence=sequence, usage=usage):
                if reason is not None:
                    self._stop_reason, self._stop_sequence = reason, sequence
                if usage is not None:
                    self._usage = self._usage.merge(usage)
            case MessageStop():
                return self._end()
            case Ping():
                return _frame("ping", {})
        return b""

    def _delta(self, index: int, delta: dict[str, object]) -> bytes:
        return _frame("content_block_delta", {"index": self._indexes[index], "delta": delta})

    def _end(self) -> bytes:
        self._done = True
        delta = {
            "delta": {
                "stop_reason": encode_stop_reason(self._stop_reason or "end_turn"),
                "stop_sequence": self._stop_sequence,
            },
            "usage": encode_usage(self._usage),
        }
        return _frame("message_delta", delta) + _frame("message_stop", {})

    def _error(self, error: ErrorInfo) -> bytes:
        self._done = True
        return _frame("error", {"error": error_payload(error)})

    def finish(self) -> bytes:
        """Bytes to end a stream whose events stopped without `MessageStop` or `StreamError`."""
        if self._done:
            return b""
        return (b"" if self._started else self._start()) + self._end()
