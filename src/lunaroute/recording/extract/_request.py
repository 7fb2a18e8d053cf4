"""A lenient reading of a request body, in any of the three dialects, for recording.

The codecs reject what they cannot translate; the recorder must not lose a request the upstream accepted,
so this reader walks the raw JSON and ignores whatever it does not recognise. It never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from lunaroute.recording.events import JsonValue
from lunaroute.types import Endpoint

from ._toolstatus import guess_success

__all__ = ["RequestView", "ToolResult", "read_request"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool result the client sent: `success` is exact for Anthropic (`is_error`), else a guess or None."""

    call_id: str
    output_size_bytes: int
    success: bool | None


@dataclass(slots=True)
class RequestView:
    """What the recorder wants from a request body.

    `json` is the decoded body (its text when it is not JSON, None when empty). `text` is the text of the
    last user message that has any (a turn carrying only tool results is skipped, so a tool loop keeps the
    prompt it serves). `new_tool_results` are the results sent after the last assistant turn, i.e. those
    answering the previous response (older ones were recorded with earlier requests). `tool_names` maps
    every tool call id in the history to its tool. `text_chars` counts the characters of every text,
    argument and result (for a rough token estimate).
    """

    json: JsonValue = None
    model: str | None = None
    text: str = ""
    message_count: int = 0
    has_system_prompt: bool = False
    tool_count: int = 0
    tool_names: dict[str, str] = field(default_factory=dict)
    new_tool_results: list[ToolResult] = field(default_factory=list)
    text_chars: int = 0


class _Turn:
    __slots__ = ("is_assistant", "results", "role", "texts")

    def __init__(self, role: str) -> None:
        self.role = role
        self.is_assistant = role == "assistant"
        self.texts: list[str] = []
        self.results: list[ToolResult] = []


def _texts(content: object) -> list[str]:
    """Text of a content value: a string, or a list of text-like parts (`text`, `input_text`, `output_text`)."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    out: list[str] = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            out.append(part["text"])
    return out


def _size(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if value is None:
        return 0
    try:
        return len(msgspec.json.encode(value))
    except (TypeError, ValueError, OverflowError):
        return 0


class _Reader:
    def __init__(self, view: RequestView) -> None:
        self.view = view
        self.turns: list[_Turn] = []

    def tool_use(self, call_id: object, name: object, arguments: object) -> None:
        if isinstance(call_id, str):
            self.view.tool_names[call_id] = name if isinstance(name, str) and name else "unknown"
        self.view.text_chars += _size(arguments)

    def result(self, turn: _Turn, call_id: object, content: object, is_error: bool | None) -> None:
        if not isinstance(call_id, str):
            return
        text = "\n".join(_texts(content))
        self.view.text_chars += len(text)
        success = (not is_error) if is_error is not None else guess_success(text)
        turn.results.append(ToolResult(call_id, _size(content), success))

    def anthropic_message(self, message: dict[str, object]) -> _Turn:
        turn = _Turn(str(message.get("role")))
        content = message.get("content")
        for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            if not isinstance(block, dict):
                continue
            kind, text = block.get("type"), block.get("text")
            if kind == "text" and isinstance(text, str):
                turn.texts.append(text)
            elif kind in ("tool_use", "server_tool_use"):
                self.tool_use(block.get("id"), block.get("name"), block.get("input"))
            elif kind == "tool_result":
                self.result(turn, block.get("tool_use_id"), block.get("content"), block.get("is_error") is True)
        return turn

    def chat_message(self, message: dict[str, object]) -> _Turn:
        turn = _Turn(str(message.get("role")))
        if turn.role == "tool":
            self.result(turn, message.get("tool_call_id"), message.get("content"), None)
            return turn
        turn.texts.extend(_texts(message.get("content")))
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                self.tool_use(call.get("id"), function.get("name"), function.get("arguments"))
        return turn

    def responses_item(self, item: object) -> _Turn | None:
        if not isinstance(item, dict):
            return None
        kind = item.get("type", "message")
        if kind == "message":
            turn = _Turn(str(item.get("role")))
            turn.texts.extend(_texts(item.get("content")))
            return turn
        if kind in ("function_call", "custom_tool_call", "local_shell_call"):
            name = "local_shell" if kind == "local_shell_call" else item.get("name")
            arguments = item.get("arguments", item.get("input", item.get("action")))
            self.tool_use(item.get("call_id"), name, arguments)
            return _Turn("assistant")
        if kind in ("function_call_output", "custom_tool_call_output", "local_shell_call_output"):
            turn = _Turn("tool")
            self.result(turn, item.get("call_id"), item.get("output"), None)
            return turn
        return None


def _decode(body: bytes) -> JsonValue:
    """The body as JSON; a body that is not JSON is kept as its text (None when empty)."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return body.decode("utf-8", "replace") if body else None


def read_request(body: bytes, endpoint: Endpoint) -> RequestView:
    """Read `body` (the request as the client sent it) as a request of `endpoint`; never raises."""
    root = _decode(body)
    view = RequestView(json=root)
    if not isinstance(root, dict):
        return view
    model = root.get("model")
    view.model = model if isinstance(model, str) else None
    tools = root.get("tools")
    view.tool_count = len(tools) if isinstance(tools, list) else 0
    reader = _Reader(view)
    turns = reader.turns
    if endpoint is Endpoint.OPENAI_RESPONSES:
        view.has_system_prompt = bool(root.get("instructions"))
        items = root.get("input")
        if isinstance(items, str):
            turn = _Turn("user")
            turn.texts.append(items)
            turns.append(turn)
        for item in items if isinstance(items, list) else []:
            turn_or_none = reader.responses_item(item)
            if turn_or_none is not None:
                turns.append(turn_or_none)
        view.message_count = len(items) if isinstance(items, list) else len(turns)
    else:
        messages = root.get("messages")
        messages = messages if isinstance(messages, list) else []
        view.message_count = len(messages)
        if endpoint.dialect == "anthropic":
            view.has_system_prompt = bool(root.get("system"))
            view.text_chars += sum(len(t) for t in _texts(root.get("system")))
            turns.extend(reader.anthropic_message(m) for m in messages if isinstance(m, dict))
        else:
            turns.extend(reader.chat_message(m) for m in messages if isinstance(m, dict))
    if not view.message_count and isinstance(root.get("prompt"), str):
        view.text = root["prompt"]  # legacy completions
    system_roles = ("system", "developer")
    view.has_system_prompt = view.has_system_prompt or any(t.role in system_roles for t in turns)
    for turn in turns:
        view.text_chars += sum(len(t) for t in turn.texts)
    for turn in reversed(turns):
        if turn.role == "user" and any(turn.texts):
            view.text = "\n".join(t for t in turn.texts if t)
            break
    for turn in reversed(turns):
        if turn.is_assistant:
            break
        view.new_tool_results[:0] = turn.results
    return view
