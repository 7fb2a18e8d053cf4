"""`model.StreamEvent`s → OpenAI Chat SSE bytes for a client.

A role chunk opens the stream; text deltas become `content`, thinking deltas `reasoning_content`,
refusal text `refusal`; a tool_use block becomes one `tool_calls` entry (index = its position among
the tool calls): id, type and name first with empty arguments, then argument fragments. The stop
reason becomes a `finish_reason` chunk; at the end comes the usage chunk (`choices: []`) when the
client asked for `include_usage`, then `data: [DONE]`. Signatures, redacted thinking and
Anthropic-only blocks are not sent. A `Ping` is an SSE comment. A `StreamError` becomes
`data: {"error": {...}}` and ends the stream: later events produce nothing.
"""

from __future__ import annotations

import time

import msgspec

from lunaroute.model import (
    BlockStart,
    BlockStop,
    ErrorInfo,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    RefusalBlock,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseBlock,
    Usage,
)

from .._sse import sse_frame
from ._errors import error_payload
from ._mapping import encode_usage, finish_reason

__all__ = ["StreamEncoder"]

_DONE = b"data: [DONE]\n\n"
_PING = b": ping\n\n"


class StreamEncoder:
    """Encodes one response stream; `encode(event)` per event, then `finish()`.

    `model_name` replaces the upstream's model name; `created` defaults to the current time.
    """

    def __init__(self, *, model_name: str | None = None, include_usage: bool, created: int | None = None) -> None:
        self._model = model_name
        self._include_usage = include_usage
        self._created = created if created is not None else int(time.time())
        self._id = ""
        self._started = False
        self._done = False
        self._finished = False
        self._usage: Usage | None = None
        self._tools: dict[int, int] = {}
        self._refusals: set[int] = set()

    def _chunk(self, delta: dict[str, object], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._frame([choice])

    def _frame(self, choices: list[object], **more: object) -> bytes:
        chunk: dict[str, object] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model or "",
            "choices": choices,
            **more,
        }
        return sse_frame(msgspec.json.encode(chunk))

    def _start(self, id_: str = "", model: str = "") -> bytes:
        self._started = True
        self._id = id_
        self._model = self._model or model
        return self._chunk({"role": "assistant", "content": ""})

    def encode(self, event: StreamEvent) -> bytes:
        if self._done:
            return b""
        if isinstance(event, MessageStart):
            self._usage = event.usage if self._usage is None else self._usage.merge(event.usage)
            return b"" if self._started else self._start(event.id, event.model)
        if isinstance(event, StreamError):
            return self._error(event.error)
        head = b"" if self._started or isinstance(event, Ping) else self._start()
        return head + self._event(event)

    def _event(self, event: StreamEvent) -> bytes:
        match event:
            case BlockStart(index=index, block=ToolUseBlock(id=id_, name=name)):
                position = self._tools[index] = len(self._tools)
                call = {"index": position, "id": id_, "type": "function", "function": {"name": name, "arguments": ""}}
                return self._chunk({"tool_calls": [call]})
            case BlockStart(index=index, block=RefusalBlock()):
                self._refusals.add(index)
            case TextDelta(index=index, text=text):
                return self._chunk({"refusal" if index in self._refusals else "content": text})
            case ThinkingDelta(thinking=thinking):
                return self._chunk({"reasoning_content": thinking})
            case ToolInputDelta(index=index, partial_json=fragment) if index in self._tools:
                call = {"index": self._tools[index], "function": {"arguments": fragment}}
                return self._chunk({"tool_calls": [call]})
            case MessageDelta(stop_reason=reason, usage=usage):
                if usage is not None:
                    self._usage = usage if self._usage is None else self._usage.merge(usage)
                if reason is not None and not self._finished:
                    self._finished = True
                    return self._chunk({}, finish_reason(reason))
            case MessageStop():
                return self._end()
            case Ping():
                return _PING
            case BlockStart() | BlockStop() | SignatureDelta() | ToolInputDelta():
                pass
        return b""

    def _end(self) -> bytes:
        out = b""
        if not self._finished:
            self._finished = True
            out += self._chunk({}, finish_reason(None))
        if self._include_usage:
            out += self._frame([], usage=encode_usage(self._usage or Usage()))
        self._done = True
        return out + _DONE

    def _error(self, error: ErrorInfo) -> bytes:
        self._done = True
        return sse_frame(msgspec.json.encode({"error": error_payload(error)}))

    def finish(self) -> bytes:
        """Bytes to end a stream whose events stopped without `MessageStop` or `StreamError`."""
        if self._done:
            return b""
        return (b"" if self._started else self._start()) + self._end()
