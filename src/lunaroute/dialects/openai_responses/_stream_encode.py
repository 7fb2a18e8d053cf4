"""`model.StreamEvent`s → the Responses API event stream for a client.

The sequence the official SDK's strict accumulator and Codex accept: `response.created` and
`response.in_progress`; per output item `response.output_item.added`, its parts and deltas, and
`response.output_item.done`; then `response.completed` (or `response.incomplete` when the answer was cut
short) carrying the whole response and its usage. Every event has `event:` and `data:` lines and a
`sequence_number` counting from 0.

Text and refusal blocks become parts of one `message` item until another kind of block starts (as in the
non-stream encoding); thinking is a `reasoning` item whose text is one summary part
(`response.reasoning_summary_*`) and whose signature is `encrypted_content`; a tool_use block is a
`function_call` item with `response.function_call_arguments.*` events. Redacted thinking and Responses
items the model has no type for arrive whole; other dialects' own blocks are not sent. A `Ping` is an SSE
comment. A `StreamError` becomes `response.failed` (the response with its `error`) and ends the stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

import msgspec

from lunaroute.model import (
    Block,
    BlockStart,
    BlockStop,
    ErrorInfo,
    ErrorKind,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    RefusalBlock,
    Response,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseBlock,
    Usage,
    parse_arguments,
)

from .._sse import sse_frame
from ._mapping import item_id, status_for
from ._response import Echo, has_item, message_item, output_item, response_object

__all__ = ["StreamEncoder"]

Json = dict[str, object]
_PING: Final = b": ping\n\n"
_FAILURE_CODES: Final[dict[ErrorKind, str]] = {
    "rate_limit": "rate_limit_exceeded",
    "billing": "insufficient_quota",
    "request_too_large": "context_length_exceeded",
    "invalid_request": "invalid_request",
}


@dataclass(slots=True)
class _Open:
    """A block being streamed: the item (and part) it is written to, and what it has gathered."""

    block: Block
    output_index: int
    item_id: str
    content_index: int = 0
    text: list[str] = field(default_factory=list)
    signature: list[str] = field(default_factory=list)


class StreamEncoder:
    """Encodes one response stream; `encode(event)` per event, then `finish()`.

    `response_id` replaces the upstream's id (the gateway names the responses it serves); `model_name` its
    model name; `echo` holds the request fields every `response` object repeats (`request_echo`).
    """

    def __init__(
        self,
        *,
        model_name: str | None = None,
        include_usage: bool = True,
        response_id: str | None = None,
        echo: Echo | None = None,
        created: int | None = None,
        custom: frozenset[str] = frozenset(),
    ) -> None:
        del include_usage  # a Responses stream always ends with its usage
        self._model = model_name
        self._id = response_id
        self._echo = echo
        self._created = created
        self._custom = custom
        self._seq = 0
        self._started = False
        self._done = False
        self._output: dict[int, Json] = {}
        self._positions = 0
        self._blocks: dict[int, _Open] = {}
        self._message: tuple[int, str, list[Json]] | None = None
        self._stop: StopReason | None = None
        self._usage = Usage()
        self._upstream_model = ""

    def _emit(self, kind: str, **fields: object) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return sse_frame(msgspec.json.encode(payload), event=kind)

    def _response(self, status: str, output: list[Json], *, usage: bool, error: Json | None = None) -> Json:
        resp = Response(
            id=self._id or "",
            model=self._upstream_model,
            stop_reason=self._stop,
            usage=self._usage,
            created=self._created,
        )
        out = response_object(resp, model_name=self._model, echo=self._echo, status=status, output=output, usage=usage)
        if error is not None:
            out["error"] = error
        return out

    def _start(self, id_: str = "", model: str = "", created: int | None = None) -> bytes:
        self._started = True
        self._id = self._id or id_
        self._upstream_model = model
        self._created = self._created if self._created is not None else created
        if self._created is None:
            self._created = int(time.time())
        head = self._response("in_progress", [], usage=False)
        return self._emit("response.created", response=head) + self._emit("response.in_progress", response=head)

    def encode(self, event: StreamEvent) -> bytes:
        if self._done:
            return b""
        if isinstance(event, MessageStart):
            self._usage = self._usage.merge(event.usage)
            return b"" if self._started else self._start(event.id, event.model, event.created)
        head = b"" if self._started or isinstance(event, Ping) else self._start()
        return head + self._event(event)

    def _event(self, event: StreamEvent) -> bytes:
        match event:
            case BlockStart(index=index, block=block):
                return self._block_start(index, block)
            case TextDelta(index=index, text=text) if index in self._blocks:
                return self._text_delta(self._blocks[index], text)
            case ThinkingDelta(index=index, thinking=text) if index in self._blocks:
                return self._thinking_delta(self._blocks[index], text)
            case SignatureDelta(index=index, signature=signature) if index in self._blocks:
                self._blocks[index].signature.append(signature)
            case ToolInputDelta(index=index, partial_json=fragment) if index in self._blocks:
                opened = self._blocks[index]
                opened.text.append(fragment)
                if isinstance(opened.block, ToolUseBlock) and opened.block.name in self._custom:
                    return b""  # the raw input is known once the arguments are complete
                where = {"item_id": opened.item_id, "output_index": opened.output_index}
                return self._emit("response.function_call_arguments.delta", **where, delta=fragment)
            case BlockStop(index=index) if index in self._blocks:
                return self._block_stop(self._blocks.pop(index))
            case MessageDelta(stop_reason=reason, usage=usage):
                self._stop = reason if reason is not None else self._stop
                self._usage = self._usage.merge(usage) if usage is not None else self._usage
            case MessageStop():
                return self._end()
            case StreamError(error=error):
                return self._fail(error)
            case Ping():
                return _PING
        return b""

    def _position(self) -> int:
        position = self._positions
        self._positions += 1
        return position

    def _block_start(self, index: int, block: Block) -> bytes:
        if isinstance(block, TextBlock | RefusalBlock):
            out = b""
            if self._message is None:
                position = self._position()
                msg = item_id("msg", self._id or "", position)
                self._message = (position, msg, [])
                item = message_item(self._id or "", position, [], status="in_progress")
                out += self._emit("response.output_item.added", output_index=position, item=item)
            position, msg, parts = self._message
            opened = _Open(block, position, msg, content_index=len(parts))
            self._blocks[index] = opened
            where = {"item_id": msg, "output_index": position, "content_index": opened.content_index}
            return out + self._emit("response.content_part.added", **where, part=self._part(opened))
        if not has_item(block):
            return b""
        out = self._close_message()
        position = self._position()
        if isinstance(block, ThinkingBlock | ToolUseBlock):
            item = output_item(block, self._id or "", position, status="in_progress", custom=self._custom)
            if item["type"] == "function_call":
                item["arguments"] = ""
            elif item["type"] == "custom_tool_call":
                item["input"] = ""
            self._blocks[index] = _Open(block, position, str(item["id"]))
            return out + self._emit("response.output_item.added", output_index=position, item=item)
        item = output_item(block, self._id or "", position)
        self._output[position] = item
        added = self._emit("response.output_item.added", output_index=position, item=item)
        return out + added + self._emit("response.output_item.done", output_index=position, item=item)

    def _part(self, opened: _Open) -> Json:
        text = "".join(opened.text)
        if isinstance(opened.block, RefusalBlock):
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _text_delta(self, opened: _Open, text: str) -> bytes:
        opened.text.append(text)
        where = {"item_id": opened.item_id, "output_index": opened.output_index, "content_index": opened.content_index}
        if isinstance(opened.block, RefusalBlock):
            return self._emit("response.refusal.delta", **where, delta=text)
        return self._emit("response.output_text.delta", **where, delta=text, logprobs=[])

    def _thinking_delta(self, opened: _Open, text: str) -> bytes:
        where = {"item_id": opened.item_id, "output_index": opened.output_index, "summary_index": 0}
        out = b""
        if not opened.text:
            part = {"type": "summary_text", "text": ""}
            out = self._emit("response.reasoning_summary_part.added", **where, part=part)
        opened.text.append(text)
        return out + self._emit("response.reasoning_summary_text.delta", **where, delta=text)

    def _block_stop(self, opened: _Open) -> bytes:
        block = opened.block
        text = "".join(opened.text)
        if isinstance(block, TextBlock | RefusalBlock):
            where = {
                "item_id": opened.item_id,
                "output_index": opened.output_index,
                "content_index": opened.content_index,
            }
            part = self._part(opened)
            if self._message is not None and self._message[0] == opened.output_index:
                self._message[2].append(part)
            if isinstance(block, RefusalBlock):
                out = self._emit("response.refusal.done", **where, refusal=text)
            else:
                out = self._emit("response.output_text.done", **where, text=text, logprobs=[])
            return out + self._emit("response.content_part.done", **where, part=part)
        out = b""
        if isinstance(block, ThinkingBlock):
            signature = "".join(opened.signature) if opened.signature else block.signature
            final = ThinkingBlock(thinking=text, signature=signature)
            if text:
                where = {"item_id": opened.item_id, "output_index": opened.output_index, "summary_index": 0}
                out += self._emit("response.reasoning_summary_text.done", **where, text=text)
                part = {"type": "summary_text", "text": text}
                out += self._emit("response.reasoning_summary_part.done", **where, part=part)
            item = output_item(final, self._id or "", opened.output_index)
        elif isinstance(block, ToolUseBlock) and block.name in self._custom:
            arguments, raw = parse_arguments(text)
            call = ToolUseBlock(id=block.id, name=block.name, input=arguments, raw_arguments=raw)
            item = output_item(call, self._id or "", opened.output_index, custom=self._custom)
            where = {"item_id": opened.item_id, "output_index": opened.output_index}
            out += self._emit("response.custom_tool_call_input.delta", **where, delta=item["input"])
            out += self._emit("response.custom_tool_call_input.done", **where, input=item["input"])
        else:
            assert isinstance(block, ToolUseBlock)
            where = {"item_id": opened.item_id, "output_index": opened.output_index}
            out += self._emit("response.function_call_arguments.done", **where, arguments=text)
            item = output_item(block, self._id or "", opened.output_index)
            item["arguments"] = text
        self._output[opened.output_index] = item
        return out + self._emit("response.output_item.done", output_index=opened.output_index, item=item)

    def _close_message(self) -> bytes:
        if self._message is None:
            return b""
        position, _, parts = self._message
        self._message = None
        item = message_item(self._id or "", position, parts)
        self._output[position] = item
        return self._emit("response.output_item.done", output_index=position, item=item)

    def _end(self) -> bytes:
        out = b"".join(self._block_stop(self._blocks.pop(i)) for i in sorted(self._blocks)) + self._close_message()
        status = status_for(self._stop)[0]
        self._done = True
        kind = "response.incomplete" if status == "incomplete" else "response.completed"
        return out + self._emit(kind, response=self._response(status, self._items(), usage=True))

    def _fail(self, error: ErrorInfo) -> bytes:
        self._done = True
        payload: Json = {"code": error.code or _FAILURE_CODES.get(error.kind, "server_error"), "message": error.message}
        return self._emit(
            "response.failed", response=self._response("failed", self._items(), usage=True, error=payload)
        )

    def _items(self) -> list[Json]:
        return [self._output[p] for p in sorted(self._output)]

    def finish(self) -> bytes:
        """Bytes to end a stream whose events stopped without `MessageStop` or `StreamError`."""
        if self._done:
            return b""
        head = b"" if self._started else self._start()
        return head + self._fail(ErrorInfo(kind="api_error", message="the upstream stream ended early", status=502))
