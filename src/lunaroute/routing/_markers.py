"""`[LUNAROUTE:name]` markers: a user picks a provider from inside the conversation.

The marker is looked for in the last user message that is not only tool results (so a tool-call chain that
follows a marked message stays on its provider), in both dialects. Every marker is stripped from the body
before it goes upstream: a `<system-reminder>` block that holds nothing but the marker is removed whole,
otherwise the marker text alone. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = ["MARKER_BYTES", "MarkerResult", "find_marker"]

MARKER_BYTES = b"[LUNAROUTE:"
_MARKER = re.compile(r"\[LUNAROUTE:([A-Za-z0-9_-]{1,64})\]")
_REMINDER_ONLY = re.compile(r"\s*<system-reminder>\s*\[LUNAROUTE:[A-Za-z0-9_-]{1,64}\]\s*</system-reminder>\s*")


@dataclass(frozen=True, slots=True)
class MarkerResult:
    """The provider named by the marker and the body with every marker removed."""

    provider: str
    body: bytes


def _is_tool_results_only(content: Any) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def _strip(text: str) -> str:
    text = _REMINDER_ONLY.sub("", text)
    return _MARKER.sub("", text).strip() if _MARKER.search(text) else text


def find_marker(body: bytes) -> MarkerResult | None:
    """The marker of the conversation in `body` (an Anthropic or OpenAI chat request), if any.

    Returns None when there is no marker in the relevant user message (markers elsewhere are left alone) or
    the body is not a JSON object with a `messages` list.
    """
    if MARKER_BYTES not in body:
        return None
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if _is_tool_results_only(content):
            continue
        found = _marker_in(message)
        if found is None:
            return None
        return MarkerResult(provider=found, body=msgspec.json.encode(document))
    return None


def _marker_in(message: dict[str, Any]) -> str | None:
    """Find the first marker in `message`, strip every marker from it in place, return the name."""
    content = message.get("content")
    name: str | None = None
    if isinstance(content, str):
        match = _MARKER.search(content)
        if match:
            name = match.group(1)
            message["content"] = _strip(content)
        return name
    if not isinstance(content, list):
        return None
    kept = []
    for part in content:
        text = part.get("text") if isinstance(part, dict) else None
        if isinstance(text, str) and (match := _MARKER.search(text)):
            name = name or match.group(1)
            stripped = _strip(text)
            if not stripped:
                continue
            part["text"] = stripped
        kept.append(part)
    if name is not None:
        message["content"] = kept or [{"type": "text", "text": ""}]
    return name
