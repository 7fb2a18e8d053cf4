"""OpenAI Responses API (`/v1/responses`, Codex) answers, stream or object, read into a `model.Response`.

Output items become blocks in `output_index` order: `message` → text (its `output_text` parts) and refusal
blocks; `reasoning` → a thinking block (its `reasoning_text` content, else its summaries); `function_call`,
`custom_tool_call` and `local_shell_call` → tool_use blocks (id = `call_id`); any other item is kept as an
`UnknownBlock`. In a stream, the deltas (`response.output_text.delta`, `response.reasoning*.delta`,
`response.function_call_arguments.delta`, ...) assemble items, a `response.output_item.done` item replaces
its assembly, and the `output` of the terminal `response.completed`/`incomplete`/`failed` replaces all, when
present. Usage is mapped to the model's accounting (input excludes cached tokens). Lenient; never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from lunaroute.dialects._sse import SSEParser
from lunaroute.model import (
    Block,
    RefusalBlock,
    Response,
    StopReason,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    UnknownBlock,
    Usage,
    parse_arguments,
)

__all__ = ["ResponsesResult", "ResponsesStreamReader", "read_responses_object"]

_TOOL_ITEMS = ("function_call", "custom_tool_call", "local_shell_call")
_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


@dataclass(frozen=True, slots=True)
class ResponsesResult:
    """The assembled answer, its raw finish (`status`, or the incomplete reason), an error, the response object."""

    response: Response
    finish_reason: str | None
    error: str | None
    final: dict[str, object]
    cut_short: bool = False


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _usage(raw: object) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    total_input = _int(raw.get("input_tokens"))
    details = raw.get("input_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    out_details = raw.get("output_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    return Usage(
        input_tokens=max(total_input - cached, 0),
        output_tokens=_int(raw.get("output_tokens")),
        cache_read_tokens=min(cached, total_input),
        reasoning_tokens=reasoning,
    )


def _parts_text(parts: object, *kinds: str) -> str:
    if not isinstance(parts, list):
        return ""
    return "\n\n".join(_str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("type") in kinds)


def _item_blocks(item: dict[str, object]) -> list[Block]:
    kind = _str(item.get("type"))
    if kind == "message":
        blocks: list[Block] = []
        content = item.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "output_text":
                blocks.append(TextBlock(text=_str(part.get("text"))))
            elif isinstance(part, dict) and part.get("type") == "refusal":
                blocks.append(RefusalBlock(text=_str(part.get("refusal"))))
        return blocks
    if kind == "reasoning":
        text = _parts_text(item.get("content"), "reasoning_text") or _parts_text(item.get("summary"), "summary_text")
        return [ThinkingBlock(thinking=text)]
    if kind in _TOOL_ITEMS:
        if kind == "local_shell_call":
            name, text = "local_shell", msgspec.json.encode(item.get("action")).decode()
        else:
            name, text = _str(item.get("name")), _str(item.get("arguments", item.get("input")))
        arguments, raw = parse_arguments(text)
        call_id = _str(item.get("call_id")) or _str(item.get("id"))
        return [ToolUseBlock(id=call_id, name=name, input=arguments, raw_arguments=raw)]
    return [UnknownBlock(dialect="openai", kind=kind or "unknown", raw=msgspec.Raw(msgspec.json.encode(item)))]


def _stop_reason(status: str, reason: str, blocks: list[Block]) -> StopReason | None:
    if status == "incomplete":
        return "refusal" if reason == "content_filter" else "max_tokens"
    if status == "completed":
        return "tool_use" if any(isinstance(b, ToolUseBlock) for b in blocks) else "end_turn"
    return None


def _error_text(error: object) -> str | None:
    if isinstance(error, dict):
        code, message = _str(error.get("code") or error.get("type")), _str(error.get("message"))
        return f"{code}: {message}" if code and message else (message or code or "error")
    return error if isinstance(error, str) and error else None


def _result(root: dict[str, object], blocks: list[Block], error: str | None) -> ResponsesResult:
    status = _str(root.get("status"))
    details = root.get("incomplete_details")
    reason = _str(details.get("reason")) if isinstance(details, dict) else ""
    error = error or _error_text(root.get("error"))
    response = Response(
        id=_str(root.get("id")),
        model=_str(root.get("model")),
        content=tuple(blocks),
        stop_reason=_stop_reason(status, reason, blocks),
        usage=_usage(root.get("usage")),
        created=_int(root.get("created_at")) or None,
    )
    return ResponsesResult(response, reason or status or None, error, root)


def read_responses_object(root: dict[str, object]) -> ResponsesResult:
    """Read a non-streamed `response` object."""
    output = root.get("output")
    blocks = (
        [b for item in output if isinstance(item, dict) for b in _item_blocks(item)] if isinstance(output, list) else []
    )
    return _result(root, blocks, None)


class _Item:
    """One output item of a stream: the item as announced, plus the deltas received for it."""

    __slots__ = ("args", "done", "item", "refusal", "texts", "thinking")

    def __init__(self, item: dict[str, object], *, done: bool = False) -> None:
        self.item = item
        self.done = done
        self.texts: list[str] = []
        self.refusal: list[str] = []
        self.thinking: list[str] = []
        self.args: list[str] = []

    def as_item(self) -> dict[str, object]:
        """The item in its wire shape: as sent when done, else assembled from its deltas."""
        if self.done:
            return self.item
        item = dict(self.item)
        kind = item.get("type")
        if kind == "reasoning":
            item["summary"] = [{"type": "summary_text", "text": "".join(self.thinking)}]
        elif kind in _TOOL_ITEMS:
            if self.args:
                item["input" if kind == "custom_tool_call" else "arguments"] = "".join(self.args)
        else:
            content: list[object] = []
            if self.texts:
                content.append({"type": "output_text", "text": "".join(self.texts)})
            if self.refusal:
                content.append({"type": "refusal", "refusal": "".join(self.refusal)})
            item["content"] = content
        return item


class ResponsesStreamReader:
    """Feed the SSE bytes of a Responses stream (`feed`, any split), then `finish()` for the result.

    `finish` reports `cut_short` when no terminal event (`response.completed`, ...) arrived; the content
    received until then is still assembled.
    """

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._head: dict[str, object] = {}
        self._final: dict[str, object] | None = None
        self._items: dict[int, _Item] = {}
        self._error: str | None = None

    def feed(self, data: bytes) -> None:
        for event in self._sse.feed(data):
            self._event(event.data)

    def finish(self) -> ResponsesResult:
        for event in self._sse.finish():
            self._event(event.data)
        root = dict(self._final if self._final is not None else self._head)
        output = root.get("output")
        if not (isinstance(output, list) and output) and self._items:
            root["output"] = [self._items[i].as_item() for i in sorted(self._items)]
        result = read_responses_object(root)
        cut_short = self._final is None
        finish = None if cut_short else result.finish_reason
        return ResponsesResult(result.response, finish, self._error or result.error, root, cut_short)

    def _item(self, event: dict[str, object]) -> _Item:
        index = _int(event.get("output_index"))
        return self._items.setdefault(index, _Item({"type": "message"}))

    def _event(self, data: str) -> None:
        if data.strip() == "[DONE]":
            return
        try:
            event = msgspec.json.decode(data)
        except (msgspec.DecodeError, RecursionError, ValueError):
            self._error = self._error or "invalid JSON in the stream"
            return
        if not isinstance(event, dict):
            return
        kind = _str(event.get("type"))
        item = event.get("item")
        response = event.get("response")
        if kind in ("response.created", "response.in_progress") and isinstance(response, dict):
            self._head = response
        elif kind in _TERMINAL and isinstance(response, dict):
            self._final = response
        elif kind in ("response.output_item.added", "response.output_item.done") and isinstance(item, dict):
            self._items[_int(event.get("output_index"))] = _Item(item, done=kind.endswith(".done"))
        elif kind == "response.output_text.delta":
            self._item(event).texts.append(_str(event.get("delta")))
        elif kind == "response.refusal.delta":
            self._item(event).refusal.append(_str(event.get("delta")))
        elif kind.startswith("response.reasoning") and kind.endswith(".delta"):
            self._item(event).thinking.append(_str(event.get("delta")))
        elif kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
            self._item(event).args.append(_str(event.get("delta")))
        elif kind == "error":
            self._error = _error_text(event.get("error", event)) or "error"
