"""Stream events: the block-structured event sequence every dialect's stream is translated through.

A well-formed stream is `MessageStart`, then for each content block `BlockStart`, its deltas and
`BlockStop`, then one or more `MessageDelta`s (stop reason, cumulative usage) and `MessageStop`.
`Ping` may come anywhere; `StreamError` ends the stream early. Block `index` is the block's position
in the assembled response's content.
"""

from __future__ import annotations

import msgspec

from ._content import Block
from ._response import ErrorInfo, StopReason, Usage

__all__ = [
    "BlockStart",
    "BlockStop",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "Ping",
    "SignatureDelta",
    "StreamError",
    "StreamEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolInputDelta",
]


class MessageStart(msgspec.Struct, frozen=True, kw_only=True, tag="message_start", tag_field="type"):
    id: str
    model: str
    usage: Usage = msgspec.field(default_factory=Usage)
    created: int | None = None


class BlockStart(msgspec.Struct, frozen=True, kw_only=True, tag="block_start", tag_field="type"):
    """A content block opens; `block` is its empty initial form (a `ToolUseBlock` carries id and name,
    a `RedactedThinkingBlock` or `UnknownBlock` arrives whole)."""

    index: int
    block: Block


class TextDelta(msgspec.Struct, frozen=True, kw_only=True, tag="text_delta", tag_field="type"):
    """Text appended to a text (or refusal) block."""

    index: int
    text: str


class ThinkingDelta(msgspec.Struct, frozen=True, kw_only=True, tag="thinking_delta", tag_field="type"):
    index: int
    thinking: str


class SignatureDelta(msgspec.Struct, frozen=True, kw_only=True, tag="signature_delta", tag_field="type"):
    index: int
    signature: str


class ToolInputDelta(msgspec.Struct, frozen=True, kw_only=True, tag="tool_input_delta", tag_field="type"):
    """A fragment of a tool call's JSON arguments; fragments concatenate to the whole text."""

    index: int
    partial_json: str


class BlockStop(msgspec.Struct, frozen=True, kw_only=True, tag="block_stop", tag_field="type"):
    index: int


class MessageDelta(msgspec.Struct, frozen=True, kw_only=True, tag="message_delta", tag_field="type"):
    """Message-level news: the stop reason, and/or a cumulative usage report."""

    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None


class MessageStop(msgspec.Struct, frozen=True, tag="message_stop", tag_field="type"):
    """The stream completed normally."""


class StreamError(msgspec.Struct, frozen=True, kw_only=True, tag="error", tag_field="type"):
    """The stream failed; nothing follows."""

    error: ErrorInfo


class Ping(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    """A keep-alive; carries nothing."""


StreamEvent = (
    MessageStart
    | BlockStart
    | TextDelta
    | ThinkingDelta
    | SignatureDelta
    | ToolInputDelta
    | BlockStop
    | MessageDelta
    | MessageStop
    | StreamError
    | Ping
)
