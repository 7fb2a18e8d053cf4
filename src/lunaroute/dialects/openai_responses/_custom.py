"""Custom (freeform) tools: a Responses `custom` tool takes raw text, not JSON (Codex's `apply_patch`).

Other dialects only have JSON tools, so a custom tool is offered as a function tool with one string parameter,
`input`, whose description carries the tool's grammar; a call of it comes back as a `custom_tool_call` item with
that string as its `input`, and a `custom_tool_call` in the history is a tool call with `{"input": ...}`.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.model import Extras, Tool, ToolUseBlock

from .._json import Obj

__all__ = ["CUSTOM", "custom_input", "custom_names", "decode_custom_tool", "is_custom"]

CUSTOM: Final = msgspec.Raw(b'"custom"')


def decode_custom_tool(tool: Obj) -> Tool:
    """A `custom` tool as a function tool of one string parameter (its `format` kept in the extras)."""
    name = tool.req_str("name")
    description = tool.string("description")
    fmt = tool.obj("format")
    hint = "The raw input of the tool, as plain text (not JSON)."
    if fmt is not None and fmt.string("type") == "grammar":
        hint += f" It must match this {fmt.string('syntax') or ''} grammar:\n{fmt.string('definition') or ''}"
    schema = {"type": "object", "properties": {"input": {"type": "string", "description": hint}}, "required": ["input"]}
    fields = {"type": CUSTOM}
    if fmt is not None:
        fields["format"] = msgspec.Raw(msgspec.json.encode(fmt.value))
    return Tool(
        name=name, description=description, input_schema=schema, extra=Extras(dialect="openai_responses", fields=fields)
    )


def is_custom(tool: Tool) -> bool:
    return tool.extra is not None and tool.extra.get("openai_responses", "type") == CUSTOM


def custom_names(tools: object) -> frozenset[str]:
    """The names of the `custom` tools in a request's raw `tools` array."""
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(
        t["name"] for t in tools if isinstance(t, dict) and t.get("type") == "custom" and isinstance(t.get("name"), str)
    )


def custom_input(block: ToolUseBlock) -> str:
    """The raw text a call of a custom tool carries: its `input` argument (else the arguments as sent)."""
    value = block.input.get("input")
    if isinstance(value, str):
        return value
    return block.raw_arguments if block.raw_arguments is not None else msgspec.json.encode(block.input).decode()
