"""The canned answer the wire renderers turn into provider bytes: text, thinking, tool calls, usage."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Answer", "StopReason", "ToolCall", "Usage"]

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"]
"""Why the answer ended, in neutral words; each renderer maps it to its dialect's value."""


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    """One function call the answer makes. `arguments` is a JSON text, sent as is (also when invalid).

    An empty `id` is replaced by a dialect-shaped one derived from the call's position (`call_mock_0`,
    `toolu_mock_0`).
    """

    name: str
    arguments: str = "{}"
    id: str = ""


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts. `input_tokens` excludes the `cache_read_tokens`; OpenAI renderers report their sum."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """What the fake model says.

    Empty `model` and `id` are filled by the renderer's caller (the request's model) or a fixed default per
    dialect; `usage=None` renders as zeros; `stop_reason=None` means `tool_use` when there are tool calls,
    else `end_turn`. `created` is the fixed Unix time rendered in `created`/`created_at` fields, so equal
    answers render to equal bytes.
    """

    text: str = ""
    thinking: str | None = None
    thinking_signature: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: StopReason | None = None
    usage: Usage | None = None
    model: str = ""
    id: str = ""
    created: int = 1_700_000_000

    @property
    def final_stop_reason(self) -> StopReason:
        """The stop reason to render: the explicit one, else derived from the tool calls."""
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if self.tool_calls else "end_turn"

    @property
    def final_usage(self) -> Usage:
        """The usage to render (zeros when none was given)."""
        return self.usage if self.usage is not None else Usage()

    def id_or(self, default: str) -> str:
        """The answer's id, or `default` when it has none."""
        return self.id or default

    def model_or(self, default: str) -> str:
        """The answer's model, or `default` when it has none."""
        return self.model or default
