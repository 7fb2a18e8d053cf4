"""Content blocks: what a message, a tool result or a response is made of."""

from __future__ import annotations

from typing import Any

import msgspec

from ._extra import Extras, WireDialect

__all__ = [
    "Base64Source",
    "Block",
    "CacheControl",
    "DocumentBlock",
    "DocumentSource",
    "FileSource",
    "ImageBlock",
    "ImageSource",
    "JsonObject",
    "PlainTextSource",
    "RedactedThinkingBlock",
    "RefusalBlock",
    "TextBlock",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolResultPart",
    "ToolUseBlock",
    "UnknownBlock",
    "UrlSource",
    "parse_arguments",
]

JsonObject = dict[str, Any]
"""An opaque JSON object (tool input, JSON Schema) as decoded by msgspec; never interpreted."""


class CacheControl(msgspec.Struct, frozen=True, kw_only=True):
    """An Anthropic prompt-cache breakpoint (`{"type": "ephemeral", "ttl": ...}`)."""

    ttl: str | None = None


class Base64Source(msgspec.Struct, frozen=True, tag="base64", tag_field="type"):
    """Inline bytes, base64-encoded, with their media type (`image/png`, `application/pdf`, ...)."""

    media_type: str
    data: str


class UrlSource(msgspec.Struct, frozen=True, tag="url", tag_field="type"):
    """A URL the provider fetches itself."""

    url: str


class FileSource(msgspec.Struct, frozen=True, tag="file", tag_field="type"):
    """A file uploaded to the provider beforehand; only meaningful to that provider."""

    file_id: str


class PlainTextSource(msgspec.Struct, frozen=True, tag="text", tag_field="type"):
    """A plain-text document."""

    data: str
    media_type: str = "text/plain"


ImageSource = Base64Source | UrlSource | FileSource
DocumentSource = Base64Source | UrlSource | FileSource | PlainTextSource


class TextBlock(msgspec.Struct, frozen=True, kw_only=True, tag="text", tag_field="type"):
    text: str
    cache_control: CacheControl | None = None
    extra: Extras | None = None


class ImageBlock(msgspec.Struct, frozen=True, kw_only=True, tag="image", tag_field="type"):
    """An image; `detail` is OpenAI's resolution hint (`auto`, `low`, `high`)."""

    source: ImageSource
    detail: str | None = None
    cache_control: CacheControl | None = None
    extra: Extras | None = None


class DocumentBlock(msgspec.Struct, frozen=True, kw_only=True, tag="document", tag_field="type"):
    """A document (PDF or text); `title` is Anthropic's, `filename` OpenAI's `file.filename`."""

    source: DocumentSource
    title: str | None = None
    filename: str | None = None
    cache_control: CacheControl | None = None
    extra: Extras | None = None


class ToolUseBlock(msgspec.Struct, frozen=True, kw_only=True, tag="tool_use", tag_field="type"):
    """A call of a client tool.

    `input` is the parsed argument object. `raw_arguments` is set only when the wire carried
    arguments that are not a JSON object (OpenAI sends a string a model may have truncated); it is
    then written back verbatim to OpenAI, and `input` is `{}`.
    """

    id: str
    name: str
    input: JsonObject = msgspec.field(default_factory=dict)
    raw_arguments: str | None = None
    cache_control: CacheControl | None = None
    extra: Extras | None = None


class ThinkingBlock(msgspec.Struct, frozen=True, kw_only=True, tag="thinking", tag_field="type"):
    """Model reasoning. `signature` is Anthropic's integrity token; `None` for OpenAI-style reasoning."""

    thinking: str
    signature: str | None = None
    extra: Extras | None = None


class RedactedThinkingBlock(msgspec.Struct, frozen=True, kw_only=True, tag="redacted_thinking", tag_field="type"):
    """Encrypted Anthropic reasoning, opaque to everyone but Anthropic."""

    data: str


class RefusalBlock(msgspec.Struct, frozen=True, kw_only=True, tag="refusal", tag_field="type"):
    """OpenAI's `refusal` text."""

    text: str


class UnknownBlock(msgspec.Struct, frozen=True, kw_only=True, tag="unknown", tag_field="type"):
    """A block the model has no type for (server tool blocks, audio, ...), kept as raw JSON.

    `kind` is its wire `type`. Only an encoder of the same `dialect` can write it.
    """

    dialect: WireDialect
    kind: str
    raw: msgspec.Raw


ToolResultPart = TextBlock | ImageBlock | DocumentBlock | UnknownBlock


class ToolResultBlock(msgspec.Struct, frozen=True, kw_only=True, tag="tool_result", tag_field="type"):
    """The result of a tool call; `content` is a plain string or a list of parts (images included)."""

    tool_use_id: str
    content: str | tuple[ToolResultPart, ...] = ""
    is_error: bool = False
    cache_control: CacheControl | None = None
    extra: Extras | None = None


Block = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | RefusalBlock
    | UnknownBlock
)


def parse_arguments(text: str) -> tuple[JsonObject, str | None]:
    """Split tool-call argument text into (`input`, `raw_arguments`) for a `ToolUseBlock`.

    A JSON object gives `(obj, None)`; blank text gives `({}, None)`; anything else (truncated or
    non-object JSON) gives `({}, text)` so the text survives unchanged.
    """
    if not text.strip():
        return {}, None
    try:
        value = msgspec.json.decode(text)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return {}, text
    if isinstance(value, dict):
        return value, None
    return {}, text
