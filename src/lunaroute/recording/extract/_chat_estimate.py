"""The input-token estimate of a plain OpenAI chat request, read from its already-decoded JSON.

`estimate_input` asks the strict codec (`openai_chat.decode_request`, then `model.estimate_input_tokens`); for
the plain requests most clients send (text messages, sampling options, function tools, the assistant's tool calls
and their results), `plain_chat_estimate` gives the same number from the decoded body without building the
request model (for a coding agent's 67 KB request, the codec costs more than everything else the recorder does). It answers only for bodies it can
vouch for — every key is one it knows, every value one the codec accepts — and returns None for anything else,
so that the codec decides.
"""

from __future__ import annotations

import msgspec

from lunaroute.dialects._json import MAX_DEPTH
from lunaroute.model._content import parse_arguments
from lunaroute.model._estimate import CHARS_PER_TOKEN, FRAMING_TOKENS

__all__ = ["plain_chat_estimate"]

_RANGES = {"temperature": (0, 2), "top_p": (0, 1), "presence_penalty": (-2, 2), "frequency_penalty": (-2, 2)}
_COUNTS = ("max_tokens", "max_completion_tokens", "n")
_TOP_LEVEL = frozenset(
    {"model", "messages", "stream", "stop", "seed", "user", "tools", "tool_choice", "parallel_tool_calls"}
    | _RANGES.keys()
    | set(_COUNTS)
)
_ROLES = frozenset({"system", "developer", "user", "assistant"})
_MESSAGE_KEYS = frozenset({"role", "content", "name"})
_ASSISTANT_KEYS = frozenset({"role", "content", "name", "tool_calls"})
_TOOL_MESSAGE_KEYS = frozenset({"role", "content", "tool_call_id"})
_PART_KEYS = frozenset({"type", "text"})
_CALL_KEYS = frozenset({"id", "type", "function"})
_CALLED_KEYS = frozenset({"name", "arguments"})
_TOOL_KEYS = frozenset({"type", "function"})
_FUNCTION_KEYS = frozenset({"name", "description", "parameters", "strict"})
_TOOL_CHOICES = frozenset({"auto", "required", "none"})
_SCHEMA_DEPTH = MAX_DEPTH - 4
"""How deep a tool's `parameters` may nest: it sits at depth 5 (body, `tools`, the tool, `function`, itself)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_range(value: object, low: int, high: int) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _options_ok(root: dict[str, object]) -> bool:
    for key, (low, high) in _RANGES.items():
        value = root.get(key)
        if value is not None and not _in_range(value, low, high):
            return False
    for key in _COUNTS:
        value = root.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return False
    seed, user, stream, stop = root.get("seed"), root.get("user"), root.get("stream"), root.get("stop")
    choice, parallel = root.get("tool_choice"), root.get("parallel_tool_calls")
    return (
        (choice is None or (isinstance(choice, str) and choice in _TOOL_CHOICES))
        and (parallel is None or isinstance(parallel, bool))
        and (seed is None or _is_int(seed))
        and (user is None or isinstance(user, str))
        and (stream is None or isinstance(stream, bool))
        and (
            stop is None or isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
        )
    )


def _content_chars(content: object, *, required: bool) -> int | None:
    """The characters of a message's content, None when the codec would not read it as plain text."""
    if content is None:
        return None if required else 0
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list):
        return None
    chars = 0
    for part in content:
        if not (isinstance(part, dict) and part.keys() <= _PART_KEYS and part.get("type") == "text"):
            return None
        text = part.get("text")
        if not isinstance(text, str):
            return None
        chars += len(text)
    return chars


def _depth(value: object, budget: int) -> bool:
    """Whether `value` nests no deeper than `budget` arrays/objects (itself included)."""
    if isinstance(value, dict):
        return budget > 0 and all(_depth(v, budget - 1) for v in value.values())
    if isinstance(value, list):
        return budget > 0 and all(_depth(v, budget - 1) for v in value)
    return True


def _tool_calls_chars(calls: object) -> int | None:
    """The characters the codec counts for an assistant's `tool_calls` (name and arguments of each), None when
    it would not read them as function calls."""
    if calls is None:
        return 0
    if not isinstance(calls, list):
        return None
    chars = 0
    for call in calls:
        if not (isinstance(call, dict) and call.keys() <= _CALL_KEYS and isinstance(call.get("id"), str)):
            return None
        kind, function = call.get("type"), call.get("function")
        if kind is not None and (not isinstance(kind, str) or (kind or "function") != "function"):
            return None
        if not (isinstance(function, dict) and function.keys() <= _CALLED_KEYS):
            return None
        name, arguments = function.get("name"), function.get("arguments")
        if not (isinstance(name, str) and (arguments is None or isinstance(arguments, str))):
            return None
        parsed, raw = parse_arguments(arguments or "")
        chars += len(name) + len(raw if raw is not None else msgspec.json.encode(parsed).decode())
    return chars


def _message_chars(message: object) -> int | None:
    if not isinstance(message, dict):
        return None
    role = message.get("role")
    if role == "tool":
        content = message.get("content")
        if not (message.keys() <= _TOOL_MESSAGE_KEYS and isinstance(message.get("tool_call_id"), str)):
            return None
        return len(content or "") if content is None or isinstance(content, str) else None
    name = message.get("name")
    if not (isinstance(role, str) and role in _ROLES and (name is None or isinstance(name, str))):
        return None
    if role == "assistant":
        if not message.keys() <= _ASSISTANT_KEYS:
            return None
        text, calls = (
            _content_chars(message.get("content"), required=False),
            _tool_calls_chars(message.get("tool_calls")),
        )
        return None if text is None or calls is None else text + calls
    if not message.keys() <= _MESSAGE_KEYS:
        return None
    return _content_chars(message.get("content"), required=True)


def _tools_chars(tools: object) -> int | None:
    """The characters the codec counts for the function tools offered (name, description, schema as JSON)."""
    if tools is None:
        return 0
    if not isinstance(tools, list):
        return None
    chars = 0
    for tool in tools:
        if not (isinstance(tool, dict) and tool.keys() <= _TOOL_KEYS and tool.get("type") == "function"):
            return None
        function = tool.get("function")
        if not (isinstance(function, dict) and function.keys() <= _FUNCTION_KEYS):
            return None
        name, description = function.get("name"), function.get("description")
        parameters, strict = function.get("parameters"), function.get("strict")
        if not (
            isinstance(name, str)
            and (description is None or isinstance(description, str))
            and (parameters is None or isinstance(parameters, dict))
            and (strict is None or isinstance(strict, bool))
        ):
            return None
        schema = msgspec.json.encode(parameters or {})
        # Nesting never exceeds the number of opening brackets: walk the schema only when it has many.
        if schema.count(b"{") + schema.count(b"[") > _SCHEMA_DEPTH and not _depth(parameters, _SCHEMA_DEPTH):
            return None
        chars += len(name) + len(description or "") + len(schema)
    return chars


def plain_chat_estimate(root: object) -> int | None:
    """`estimate_input_tokens(openai_chat.decode_request(body))` when `root` (the decoded body) is a plain chat
    request, else None. A plain request has only the keys `model`, `messages`, the sampling options, `stream`,
    `stop`, `seed`, `user`, `tools`, `tool_choice` (a string) and `parallel_tool_calls`; its messages are
    system/developer/user/assistant messages with a `name` at most, string content or `text` parts, the
    assistant's function `tool_calls`, and `tool` messages with string content; its tools are function tools."""
    if not isinstance(root, dict) or not root.keys() <= _TOP_LEVEL:
        return None
    model, messages = root.get("model"), root.get("messages")
    if not (isinstance(model, str) and model.strip() and isinstance(messages, list) and messages):
        return None
    if not _options_ok(root):
        return None
    tools = root.get("tools")
    chars = _tools_chars(tools)
    if chars is None:
        return None
    for message in messages:
        count = _message_chars(message)
        if count is None:
            return None
        chars += count
    framing = FRAMING_TOKENS * (len(messages) + (len(tools) if isinstance(tools, list) else 0))
    return max(1, -(-chars // CHARS_PER_TOKEN) + framing)
