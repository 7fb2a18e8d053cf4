"""Fit a chat completions request to what an OpenAI-compatible engine supports (`capabilities`): pure, over JSON
bytes.

A missing capability the request needs (tools, images) is refused with `UnsupportedFeature`, which the client
gets as a 400 in its own dialect naming the provider and the flag; the others are documented degradations (a key
left out, a role renamed or folded, the token-limit key renamed). A request that needs nothing is returned as the
same bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lunaroute.config import CapabilitiesConfig
from lunaroute.errors import UnsupportedFeature

__all__ = ["fit_to_capabilities"]

_encode = msgspec.json.encode
_top = msgspec.json.Decoder(dict[str, msgspec.Raw])
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_LIMITS = ("max_tokens", "max_completion_tokens")


def _refuse(provider: str, what: str, flag: str, param: str) -> UnsupportedFeature:
    return UnsupportedFeature(
        f"provider {provider!r} does not support {what} (capabilities.{flag}: false)", param=param
    )


def _uses_tools(top: dict[str, msgspec.Raw], messages: list[Any]) -> bool:
    for key in ("tools", "functions"):
        if key in top and msgspec.json.decode(top[key]):
            return True
    return any(
        isinstance(m, dict) and (m.get("role") in ("tool", "function") or m.get("tool_calls") or m.get("function_call"))
        for m in messages
    )


def _uses_images(messages: list[Any]) -> bool:
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") in _IMAGE_PARTS for p in content):
            return True
    return False


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _fold_system(messages: list[Any]) -> list[Any]:
    """System and developer messages, in order, become the start of the first user message."""
    instructions = [
        _text_of(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")
    ]
    rest = [m for m in messages if not (isinstance(m, dict) and m.get("role") in ("system", "developer"))]
    preamble = "\n\n".join(text for text in instructions if text)
    if not preamble:
        return rest
    for i, message in enumerate(rest):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                folded: object = [{"type": "text", "text": preamble}, *content]
            else:
                folded = f"{preamble}\n\n{content}" if content else preamble
            rest[i] = {**message, "content": folded}
            return rest
    return [{"role": "user", "content": preamble}, *rest]


def fit_to_capabilities(body: bytes, capabilities: CapabilitiesConfig, provider: str) -> bytes:
    """`body` (a chat completions request) fitted to `capabilities`; raises `UnsupportedFeature` when it needs
    tools or images the engine lacks. A body that is not a JSON object is returned unchanged."""
    try:
        top = _top.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return body
    messages_raw = top.get("messages")
    messages: list[Any] = msgspec.json.decode(messages_raw) if messages_raw is not None else []
    if not isinstance(messages, list):
        return body
    if not capabilities.tools and _uses_tools(top, messages):
        raise _refuse(provider, "tools or tool calls", "tools", "tools")
    if not capabilities.images and _uses_images(messages):
        raise _refuse(provider, "image input", "images", "messages")
    changed = False
    for key, keep in (
        ("stream_options", capabilities.stream_options),
        ("parallel_tool_calls", capabilities.parallel_tool_calls),
    ):
        if not keep and key in top:
            del top[key]
            changed = True
    wanted = capabilities.max_tokens_field
    if wanted is not None:
        other = _LIMITS[1] if wanted == _LIMITS[0] else _LIMITS[0]
        if other in top:
            limit = top.pop(other)
            top.setdefault(wanted, limit)
            changed = True
    roles = {m.get("role") for m in messages if isinstance(m, dict)}
    if not capabilities.system_role and roles & {"system", "developer"}:
        messages = _fold_system(messages)
    elif not capabilities.developer_role and "developer" in roles:
        messages = [
            {**m, "role": "system"} if isinstance(m, dict) and m.get("role") == "developer" else m for m in messages
        ]
    else:
        return _encode(top) if changed else body
    top["messages"] = msgspec.Raw(_encode(messages))
    return _encode(top)
