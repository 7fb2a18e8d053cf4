"""The input-token estimate of a plain Anthropic Messages request, read from its already-decoded JSON.

The counterpart of `_chat_estimate` for `POST /v1/messages`: `plain_messages_estimate` gives the number
`estimate_input_tokens(anthropic_messages.decode_request(body))` gives, without building the request model, for
the requests coding agents send (a system prompt, custom tools, text, tool calls, tool results and thinking
blocks, `cache_control` marks, `thinking`, `metadata` and `output_config` settings). It answers only for bodies it
can vouch for — every value one the codec accepts, no key of a block, message or tool it does not know, nothing
nested deeper than the codec allows — and returns None for anything else, so that the codec decides.
"""

from __future__ import annotations

import msgspec

from lunaroute.dialects._json import MAX_DEPTH
from lunaroute.model._estimate import CHARS_PER_TOKEN, FRAMING_TOKENS

__all__ = ["plain_messages_estimate"]

_CACHE_KEYS = frozenset({"type", "ttl"})
_BLOCK_KEYS = {
    "text": frozenset({"type", "text", "cache_control"}),
    "tool_use": frozenset({"type", "id", "name", "input", "cache_control"}),
    "tool_result": frozenset({"type", "tool_use_id", "content", "is_error", "cache_control"}),
    "thinking": frozenset({"type", "thinking", "signature"}),
    "redacted_thinking": frozenset({"type", "data"}),
}
_TOOL_KEYS = frozenset({"type", "name", "description", "input_schema", "cache_control", "strict"})
_MESSAGE_KEYS = frozenset({"role", "content"})
_ROLES = frozenset({"user", "assistant"})
_CHOICES = frozenset({"auto", "any", "none", "tool"})
_CHOICE_KEYS = frozenset({"type", "name", "disable_parallel_tool_use"})
_THINKING_KEYS = frozenset({"type", "budget_tokens", "display"})
_SETTINGS = frozenset({"metadata", "output_config"})
_CHECKED = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "output_format",
        *_SETTINGS,
    }
)


def _depth(value: object, budget: int) -> bool:
    """Whether `value` nests no deeper than `budget` arrays/objects (itself included)."""
    if isinstance(value, dict):
        return budget > 0 and all(_depth(v, budget - 1) for v in value.values())
    if isinstance(value, list):
        return budget > 0 and all(_depth(v, budget - 1) for v in value)
    return True


def _encoded(value: object, budget: int) -> bytes | None:
    """`value` as the codec's JSON, None when it nests deeper than `budget`."""
    data = msgspec.json.encode(value)
    # Nesting never exceeds the number of opening brackets: walk the value only when it has many.
    if data.count(b"{") + data.count(b"[") > budget and not _depth(value, budget):
        return None
    return data


def _opt(value: object, kind: type | tuple[type, ...]) -> bool:
    return value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool)))


def _cache_ok(block: dict[str, object]) -> bool:
    cc = block.get("cache_control")
    if cc is None:
        return True
    return isinstance(cc, dict) and cc.keys() <= _CACHE_KEYS and _opt(cc.get("type"), str) and _opt(cc.get("ttl"), str)


def _block_chars(block: object, level: int) -> int | None:
    """The characters the codec counts for one content block at nesting `level` (the body is at 1), None when
    not vouched for."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    keys = _BLOCK_KEYS.get(kind) if isinstance(kind, str) else None
    if keys is None or not block.keys() <= keys or not _cache_ok(block):
        return None
    match kind:
        case "text":
            text = block.get("text")
            return len(text) if isinstance(text, str) else None
        case "tool_use":
            name, arguments = block.get("name"), block.get("input")
            if not (isinstance(block.get("id"), str) and isinstance(name, str) and _opt(arguments, dict)):
                return None
            data = _encoded(arguments or {}, MAX_DEPTH - level)
            return None if data is None else len(name) + len(data.decode())
        case "tool_result":
            if not (isinstance(block.get("tool_use_id"), str) and _opt(block.get("is_error"), bool)):
                return None
            content = block.get("content")
            if content is None or isinstance(content, str):
                return len(content or "")
            if not isinstance(content, list):
                return None
            chars = 0
            for part in content:
                if not (isinstance(part, dict) and part.get("type") == "text"):
                    return None  # images and documents in results: the codec counts them as media
                count = _block_chars(part, level + 2)
                if count is None:
                    return None
                chars += count
            return chars
        case "thinking":
            thinking = block.get("thinking")
            return len(thinking) if isinstance(thinking, str) and _opt(block.get("signature"), str) else None
        case _:  # redacted_thinking
            data = block.get("data")
            return len(data) // 4 if isinstance(data, str) else None


def _content_chars(content: object, level: int, *, text_only: bool = False) -> int | None:
    """The characters of a `content` (or `system`) value at nesting `level` (the body is at 1): a string or an
    array of blocks."""
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list):
        return None
    chars = 0
    for block in content:
        if text_only and not (isinstance(block, dict) and block.get("type") == "text"):
            return None
        count = _block_chars(block, level + 1)
        if count is None:
            return None
        chars += count
    return chars


def _tools_chars(tools: object) -> int | None:
    if tools is None:
        return 0
    if not isinstance(tools, list):
        return None
    chars = 0
    for tool in tools:
        if not isinstance(tool, dict):
            return None
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raw = _encoded(tool, MAX_DEPTH - 2)
            if not isinstance(kind, str) or not _opt(tool.get("name"), str) or raw is None:
                return None
            chars += len(raw)
            continue
        name, description, schema = tool.get("name"), tool.get("description"), tool.get("input_schema")
        if not (
            tool.keys() <= _TOOL_KEYS
            and isinstance(name, str)
            and _opt(description, str)
            and isinstance(schema, dict)
            and _opt(tool.get("strict"), bool)
            and _cache_ok(tool)
        ):
            return None
        data = _encoded(schema, MAX_DEPTH - 3)
        if data is None:
            return None
        chars += len(name) + len(description or "") + len(data)
    return chars


def _number_ok(value: object, low: float, high: float) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high)


def _settings_ok(root: dict[str, object]) -> bool:
    """The sampling options, `stop_sequences`, `stream`, `tool_choice`, `thinking`, `metadata`, `output_config`
    (without a `format`) and no `output_format`: each absent or as the codec accepts it; unknown keys not deeper
    than the codec allows."""
    top_k, stop, stream = root.get("top_k"), root.get("stop_sequences"), root.get("stream")
    if not (
        _number_ok(root.get("temperature"), 0, 1)
        and _number_ok(root.get("top_p"), 0, 1)
        and (top_k is None or (_opt(top_k, int) and isinstance(top_k, int) and top_k >= 0))
        and (stop is None or (isinstance(stop, list) and all(isinstance(s, str) for s in stop)))
        and _opt(stream, bool)
        and root.get("output_format") is None
    ):
        return False
    choice = root.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if not (
            isinstance(choice, dict)
            and choice.keys() <= _CHOICE_KEYS
            and isinstance(kind, str)
            and kind in _CHOICES
            and _opt(choice.get("disable_parallel_tool_use"), bool)
            and (isinstance(choice.get("name"), str) if kind == "tool" else choice.get("name") is None)
        ):
            return False
    thinking = root.get("thinking")
    if thinking is not None:
        mode, budget = thinking.get("type") if isinstance(thinking, dict) else None, None
        if isinstance(thinking, dict):
            budget = thinking.get("budget_tokens")
        if not (
            isinstance(thinking, dict)
            and thinking.keys() <= _THINKING_KEYS
            and mode in ("enabled", "adaptive", "disabled")
            and _opt(thinking.get("display"), str)
            and (mode != "enabled" or (_opt(budget, int) and isinstance(budget, int) and budget >= 1))
        ):
            return False
    metadata, config = root.get("metadata"), root.get("output_config")
    if metadata is not None and not (isinstance(metadata, dict) and _opt(metadata.get("user_id"), str)):
        return False
    if config is not None and not (
        isinstance(config, dict) and _opt(config.get("effort"), str) and config.get("format") is None
    ):
        return False
    unknown = [v for k, v in root.items() if k not in _CHECKED]
    return all(_depth(v, MAX_DEPTH - 1) for v in unknown) and all(_depth(root.get(k), MAX_DEPTH - 1) for k in _SETTINGS)


def plain_messages_estimate(root: object) -> int | None:
    """`estimate_input_tokens(anthropic_messages.decode_request(body))` when `root` (the decoded body) is a
    request this module vouches for (see the module docstring), else None."""
    if not isinstance(root, dict):
        return None
    model, max_tokens, messages = root.get("model"), root.get("max_tokens"), root.get("messages")
    if not (
        isinstance(model, str)
        and model.strip()
        and isinstance(max_tokens, int)
        and not isinstance(max_tokens, bool)
        and max_tokens >= 1
        and isinstance(messages, list)
        and messages
        and _settings_ok(root)
    ):
        return None
    tools = root.get("tools")
    chars = _tools_chars(tools)
    if chars is None:
        return None
    framing = FRAMING_TOKENS * (len(messages) + (len(tools) if isinstance(tools, list) else 0))
    system = root.get("system")
    if system is not None:
        count = _content_chars(system, 2, text_only=True)
        if count is None:
            return None
        chars += count
        framing += FRAMING_TOKENS
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if not (
            isinstance(message, dict) and message.keys() <= _MESSAGE_KEYS and isinstance(role, str) and role in _ROLES
        ):
            return None
        count = _content_chars(message.get("content"), 4)
        if count is None:
            return None
        chars += count
    return max(1, -(-chars // CHARS_PER_TOKEN) + framing)
