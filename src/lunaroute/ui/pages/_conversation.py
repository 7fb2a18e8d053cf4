"""A lenient reading of recorded request and response bodies, in any of the three dialects, for display.

Requests and responses are recorded as the client's JSON: Anthropic Messages, OpenAI Chat Completions or
the OpenAI Responses API (for a stream, the assembled answer in the non-stream shape). The codecs reject
what they cannot translate; a page must show whatever was recorded, so this reader walks the JSON, keeps
every text, thinking, tool call and tool result, and turns anything else into an `Other` part naming its
type. It never raises. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from lunaroute.recording.events import JsonValue

__all__ = [
    "Conversation",
    "Other",
    "Part",
    "Text",
    "Thinking",
    "ToolCall",
    "ToolResult",
    "Turn",
    "new_turns",
    "read_request",
    "read_response",
]

_TEXT_TYPES = frozenset({"text", "input_text", "output_text"})
_IMAGE_TYPES = frozenset({"image", "image_url", "input_image"})
_FILE_TYPES = frozenset({"document", "file", "input_file"})
_CALL_ITEMS = frozenset({"function_call", "custom_tool_call"})
_RESULT_ITEMS = frozenset({"function_call_output", "custom_tool_call_output"})
_OTHER_MAX = 600


@dataclass(frozen=True, slots=True)
class Text:
    """Text a user typed or a model wrote; `refusal` marks a model's refusal."""

    text: str
    refusal: bool = False


@dataclass(frozen=True, slots=True)
class Thinking:
    """Model reasoning (Anthropic thinking, OpenAI reasoning summaries); `redacted` when only encrypted."""

    text: str
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call; `arguments` is pretty-printed JSON when it parses, else the text as sent."""

    name: str
    call_id: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The result of the call `call_id` as text (non-text parts are named in brackets)."""

    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Other:
    """A part this reader does not show in full: `kind` is its type, `detail` a short description."""

    kind: str
    detail: str = ""


Part = Text | Thinking | ToolCall | ToolResult | Other


@dataclass(frozen=True, slots=True)
class Turn:
    """One message: `role` as sent (`user`, `assistant`, `tool`, `system`, `developer`)."""

    role: str
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    """A request: its instructions (`system`), its messages in order, and the names of the tools offered."""

    system: tuple[Part, ...] = ()
    turns: tuple[Turn, ...] = ()
    tools: tuple[str, ...] = ()


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _compact(value: object, limit: int = _OTHER_MAX) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _pretty(arguments: object) -> str:
    """Tool arguments as indented JSON (a JSON string is parsed first); unparsable text is returned as is."""
    value = arguments
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return str(arguments)


def _content_text(content: object) -> str:
    """A tool result's content as text: a string, or its parts joined (non-text parts named in brackets)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            for p in _parts(part):
                out.append(p.text if isinstance(p, Text | Thinking) else f"[{p.kind}]" if isinstance(p, Other) else "")
        return "\n".join(o for o in out if o)
    return "" if content is None else _compact(content)


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1024 else f"{n / 1024:,.1f} kB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def _inline(media_type: str, data: str, base64: bool) -> str:
    """`image/png, 12.3 kB`: what an inline (data URL or base64) attachment is, never its bytes."""
    size = len(data.rstrip("=")) * 3 // 4 if base64 else len(data)
    return f"{media_type or 'unknown type'}, {_size(size)}"


_DATA_URL = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),", re.S)


def _data_url(url: str) -> str:
    found = _DATA_URL.match(url)
    if found is None:
        return ""
    return _inline(found.group(1), url[found.end() :], ";base64" in found.group(2))


def _media(part: dict[str, object], kind: str) -> Other:
    source = part.get("source")
    detail = ""
    if isinstance(source, dict):
        detail = _str(source.get("media_type")) or _str(source.get("url"))
        data = source.get("data")
        if isinstance(data, str) and source.get("type") == "base64":
            detail = _inline(_str(source.get("media_type")), data, base64=True)
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if isinstance(url, str):
        detail = _data_url(url) if url.startswith("data:") else url
    name = _str(part.get("title")) or _str(part.get("filename"))
    file = part.get("file")
    if not name and isinstance(file, dict):
        name = _str(file.get("filename"))
    return Other(kind, name or detail)


def _parts(part: object) -> list[Part]:
    """The display parts of one content element (a string or a typed block)."""
    if isinstance(part, str):
        return [Text(part)] if part else []
    if not isinstance(part, dict):
        return [] if part is None else [Other("value", _compact(part))]
    kind = _str(part.get("type"))
    if kind in _TEXT_TYPES:
        return [Text(_str(part.get("text")))]
    if kind == "refusal":
        return [Text(_str(part.get("refusal")) or _str(part.get("text")), refusal=True)]
    if kind == "thinking":
        return [Thinking(_str(part.get("thinking")))]
    if kind == "redacted_thinking":
        return [Thinking("", redacted=True)]
    if kind in ("tool_use", "server_tool_use"):
        return [ToolCall(_str(part.get("name")) or "?", _str(part.get("id")), _pretty(part.get("input", {})))]
    if kind == "tool_result" or kind.endswith("_tool_result"):
        return [
            ToolResult(_str(part.get("tool_use_id")), _content_text(part.get("content")), part.get("is_error") is True)
        ]
    if kind in _IMAGE_TYPES:
        return [_media(part, "image")]
    if kind in _FILE_TYPES:
        return [_media(part, "document")]
    if kind == "input_audio":
        return [Other("audio")]
    return [Other(kind or "object", _compact(part))]


def _content(content: object) -> list[Part]:
    if isinstance(content, list):
        return [p for item in content for p in _parts(item)]
    return _parts(content)


def _chat_calls(calls: object) -> list[Part]:
    out: list[Part] = []
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else call.get("custom")
        fn = fn if isinstance(fn, dict) else {}
        args = fn.get("arguments", fn.get("input", ""))
        out.append(ToolCall(_str(fn.get("name")) or "?", _str(call.get("id")), _pretty(args)))
    return out


def _texts_of(items: object) -> list[str]:
    return [_str(s.get("text")) for s in items if isinstance(s, dict)] if isinstance(items, list) else []


def _reasoning(item: dict[str, object]) -> Thinking:
    texts = _texts_of(item.get("summary"))
    if not any(texts):
        texts = _texts_of(item.get("content"))
    text = "\n\n".join(t for t in texts if t)
    return Thinking(text, redacted=not text)


def _turn(item: object) -> Turn | None:
    """One message (any dialect) or Responses API input/output item as a turn."""
    if isinstance(item, str):
        return Turn("user", (Text(item),))
    if not isinstance(item, dict):
        return None
    kind = _str(item.get("type"))
    if kind in _CALL_ITEMS:
        args = item.get("arguments", item.get("input", ""))
        call_id = _str(item.get("call_id")) or _str(item.get("id"))
        return Turn("assistant", (ToolCall(_str(item.get("name")) or "?", call_id, _pretty(args)),))
    if kind in _RESULT_ITEMS:
        return Turn("tool", (ToolResult(_str(item.get("call_id")), _content_text(item.get("output"))),))
    if kind == "reasoning":
        return Turn("assistant", (_reasoning(item),))
    if kind and kind != "message" and "role" not in item:
        return Turn("assistant", (Other(kind, _compact(item)),))
    role = _str(item.get("role")) or "user"
    parts: list[Part] = []
    for key in ("reasoning_content", "reasoning"):
        if _str(item.get(key)):
            parts.append(Thinking(_str(item.get(key))))
    if role == "tool":
        parts.append(ToolResult(_str(item.get("tool_call_id")), _content_text(item.get("content"))))
    else:
        parts.extend(_content(item.get("content")))
    if _str(item.get("refusal")):
        parts.append(Text(_str(item.get("refusal")), refusal=True))
    parts.extend(_chat_calls(item.get("tool_calls")))
    if isinstance(item.get("function_call"), dict):
        parts.extend(_chat_calls([{"function": item["function_call"]}]))
    return Turn(role, tuple(parts))


def _merged(turns: list[Turn]) -> tuple[Turn, ...]:
    """Consecutive turns of one role as one (Responses API items split an answer into several)."""
    out: list[Turn] = []
    for turn in turns:
        if out and out[-1].role == turn.role and turn.role in ("assistant", "tool"):
            out[-1] = Turn(turn.role, out[-1].parts + turn.parts)
        else:
            out.append(turn)
    return tuple(out)


def _tool_names(tools: object) -> tuple[str, ...]:
    names = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict):
            fn = tool.get("function")
            name = _str(fn.get("name")) if isinstance(fn, dict) else _str(tool.get("name"))
            names.append(name or _str(tool.get("type")) or "?")
    return tuple(names)


def read_request(body: JsonValue) -> Conversation:
    """The conversation a request body carries (any dialect); a non-object body is one user text."""
    if not isinstance(body, dict):
        return Conversation(turns=(Turn("user", (Text(str(body)),)),) if body else ())
    system = _content(body.get("system")) + _content(body.get("instructions"))
    turns = [t for t in map(_turn, body.get("messages") or []) if t is not None]
    given = body.get("input")
    turns += [t for t in map(_turn, given if isinstance(given, list) else [given] if given else []) if t is not None]
    while turns and turns[0].role in ("system", "developer"):
        system.extend(turns.pop(0).parts)
    return Conversation(tuple(system), _merged(turns), _tool_names(body.get("tools")))


def read_response(body: JsonValue) -> tuple[Part, ...]:
    """The answer a response body carries (any dialect, non-stream shape); `()` when it has none."""
    if isinstance(body, str):
        return (Text(body),) if body else ()
    if not isinstance(body, dict):
        return ()
    if isinstance(body.get("choices"), list):
        choice = next((c for c in body["choices"] if isinstance(c, dict)), {})
        turn = _turn(choice.get("message") or choice.get("delta") or {})
        return turn.parts if turn is not None else ()
    if isinstance(body.get("output"), list):
        turns = [t for t in map(_turn, body["output"]) if t is not None]
        return tuple(p for t in turns for p in t.parts)
    if isinstance(body.get("content"), list):
        return tuple(_content(body["content"]))
    if "error" in body:
        error = body["error"]
        message = _str(error.get("message")) if isinstance(error, dict) else _str(error)
        return (Other("error", message or _compact(error)),)
    return ()


def new_turns(conversation: Conversation, *, first: bool) -> tuple[Turn, ...]:
    """The turns a request adds to its history: all for the `first` request of a session, else those after
    the last assistant turn that is not the final one (a client resends the whole history each time)."""
    turns = conversation.turns
    if first:
        return turns
    for i in range(len(turns) - 2, -1, -1):
        if turns[i].role == "assistant":
            return turns[i + 1 :]
    return turns
