"""The normalized request: messages, tools, tool choice and generation parameters."""

from __future__ import annotations

from typing import Literal

import msgspec

from ._content import Block, CacheControl, JsonObject
from ._extra import Extras, WireDialect

__all__ = [
    "BuiltinTool",
    "Message",
    "Reasoning",
    "Request",
    "ResponseFormat",
    "Role",
    "Tool",
    "ToolChoice",
    "ToolChoiceAny",
    "ToolChoiceAuto",
    "ToolChoiceNone",
    "ToolChoiceTool",
    "ToolSpec",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
"""`system`/`developer` carry instructions, `tool` carries OpenAI-style tool results.

Anthropic puts tool results in `user` messages instead; both forms are valid in the model and each
encoder places them where its dialect wants them.
"""


class Message(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    content: tuple[Block, ...] = ()
    name: str | None = None
    extra: Extras | None = None


class Tool(msgspec.Struct, frozen=True, kw_only=True, tag="function", tag_field="type"):
    """A client-side tool the model may call; `input_schema` is its JSON Schema (`{}` when none)."""

    name: str
    description: str | None = None
    input_schema: JsonObject = msgspec.field(default_factory=dict)
    strict: bool | None = None
    cache_control: CacheControl | None = None
    extra: Extras | None = None


class BuiltinTool(msgspec.Struct, frozen=True, kw_only=True, tag="builtin", tag_field="type"):
    """A provider-hosted tool (Anthropic `web_search_...`, OpenAI `custom`), kept as raw JSON.

    Only an encoder of the same `dialect` writes it; the other drops it.
    """

    dialect: WireDialect
    kind: str
    name: str | None
    raw: msgspec.Raw


ToolSpec = Tool | BuiltinTool


class ToolChoiceAuto(msgspec.Struct, frozen=True, tag="auto", tag_field="type"):
    """The model decides whether to call tools."""


class ToolChoiceAny(msgspec.Struct, frozen=True, tag="any", tag_field="type"):
    """The model must call at least one tool (OpenAI `required`)."""


class ToolChoiceNone(msgspec.Struct, frozen=True, tag="none", tag_field="type"):
    """The model must not call tools."""


class ToolChoiceTool(msgspec.Struct, frozen=True, tag="tool", tag_field="type"):
    """The model must call the named tool."""

    name: str


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceNone | ToolChoiceTool


class ResponseFormat(msgspec.Struct, frozen=True, kw_only=True):
    """Structured output: free text, any JSON object, or JSON matching `schema`."""

    kind: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema: JsonObject | None = None
    strict: bool | None = None


class Reasoning(msgspec.Struct, frozen=True, kw_only=True):
    """How much the model should think.

    `mode` is Anthropic's `thinking.type` (`enabled` with `budget_tokens`, `adaptive`, `disabled`);
    `effort` is OpenAI's `reasoning_effort` or Anthropic's `output_config.effort`. A request from
    OpenAI sets only `effort`; the table converting one into the other lives with each encoder.
    """

    mode: Literal["enabled", "adaptive", "disabled"] | None = None
    budget_tokens: int | None = None
    effort: str | None = None
    display: str | None = None


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """One generation request, whichever dialect it came in.

    `max_tokens` is None when the client sent none. `user` is OpenAI's `user` or Anthropic's
    `metadata.user_id`. `include_usage` is whether the client wants a usage report in a stream
    (always true for Anthropic clients).
    """

    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    extra: Extras | None = None
