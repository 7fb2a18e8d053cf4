"""The input-token estimate of a plain OpenAI chat request, read from its already-decoded JSON.

`estimate_input` asks the strict codec (`openai_chat.decode_request`, then `model.estimate_input_tokens`); for
the plain requests most clients send (text messages, sampling options, no tools), `plain_chat_estimate` gives
the same number from the decoded body without building the request model. It answers only for bodies it can
vouch for — every key is one it knows, every value one the codec accepts — and returns None for anything else,
so that the codec decides.
"""

from __future__ import annotations

from lunaroute.model._estimate import CHARS_PER_TOKEN, FRAMING_TOKENS

__all__ = ["plain_chat_estimate"]

_RANGES = {"temperature": (0, 2), "top_p": (0, 1), "presence_penalty": (-2, 2), "frequency_penalty": (-2, 2)}
_COUNTS = ("max_tokens", "max_completion_tokens", "n")
_TOP_LEVEL = frozenset({"model", "messages", "stream", "stop", "seed", "user", *_RANGES, *_COUNTS})
_ROLES = frozenset({"system", "developer", "user", "assistant"})
_MESSAGE_KEYS = frozenset({"role", "content", "name"})
_PART_KEYS = frozenset({"type", "text"})


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
    return (
        (seed is None or _is_int(seed))
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


def plain_chat_estimate(root: object) -> int | None:
    """`estimate_input_tokens(openai_chat.decode_request(body))` when `root` (the decoded body) is a plain chat
    request, else None. A plain request has only the keys `model`, `messages`, the sampling options, `stream`,
    `stop`, `seed` and `user`; its messages are system/developer/user/assistant messages with a `name` at most,
    and string content or `text` parts."""
    if not isinstance(root, dict) or not root.keys() <= _TOP_LEVEL:
        return None
    model, messages = root.get("model"), root.get("messages")
    if not (isinstance(model, str) and model.strip() and isinstance(messages, list) and messages):
        return None
    if not _options_ok(root):
        return None
    chars = 0
    for message in messages:
        if not (isinstance(message, dict) and message.keys() <= _MESSAGE_KEYS):
            return None
        role, name = message.get("role"), message.get("name")
        if not (isinstance(role, str) and role in _ROLES and (name is None or isinstance(name, str))):
            return None
        count = _content_chars(message.get("content"), required=role != "assistant")
        if count is None:
            return None
        chars += count
    return max(1, -(-chars // CHARS_PER_TOKEN) + FRAMING_TOKENS * len(messages))
