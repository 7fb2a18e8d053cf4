"""Anthropic Messages request body → `model.Request`."""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from lunaroute.errors import InvalidRequest
from lunaroute.model import (
    BuiltinTool,
    Message,
    Reasoning,
    Request,
    ResponseFormat,
    Role,
    TextBlock,
    Tool,
    ToolChoice,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolSpec,
)

from .._json import Obj, parse_object
from ._blocks import cache_control, decode_blocks

__all__ = ["decode_request"]

_ROLES: Final[dict[str, Role]] = {"user": "user", "assistant": "assistant"}
_THINKING_MODES: Final[dict[str, Literal["enabled", "adaptive", "disabled"]]] = {
    "enabled": "enabled",
    "adaptive": "adaptive",
    "disabled": "disabled",
}


def _system(root: Obj) -> tuple[Message, ...]:
    if not root.has("system"):
        root.get("system")
        return ()
    blocks = decode_blocks(root, "system")
    for i, block in enumerate(blocks):
        if not isinstance(block, TextBlock):
            raise InvalidRequest(f"system[{i}]: only text blocks are allowed", param=f"system[{i}]")
    return (Message(role="system", content=blocks),)


def _message(o: Obj) -> Message:
    wire_role = o.req_str("role")
    role = _ROLES.get(wire_role) or o.fail("role", "must be 'user' or 'assistant'")
    return Message(role=role, content=decode_blocks(o, "content"), extra=o.extras("anthropic"))


def _tools(root: Obj) -> tuple[ToolSpec, ...]:
    tools: list[ToolSpec] = []
    for tool in root.items("tools"):
        kind = tool.string("type")
        if kind not in (None, "custom"):
            raw = msgspec.Raw(msgspec.json.encode(tool.value))
            tools.append(BuiltinTool(dialect="anthropic", kind=kind, name=tool.string("name"), raw=raw))
            continue
        schema = tool.obj("input_schema") or tool.fail("input_schema", "is required")
        tools.append(
            Tool(
                name=tool.req_str("name"),
                description=tool.string("description"),
                input_schema=schema.value,
                strict=tool.boolean("strict"),
                cache_control=cache_control(tool),
                extra=tool.extras("anthropic"),
            )
        )
    return tuple(tools)


def _tool_choice(root: Obj) -> tuple[ToolChoice | None, bool | None]:
    choice = root.obj("tool_choice")
    if choice is None:
        return None, None
    kind = choice.req_str("type")
    disable = choice.boolean("disable_parallel_tool_use")
    parallel = None if disable is None else not disable
    if kind == "auto":
        return ToolChoiceAuto(), parallel
    if kind == "any":
        return ToolChoiceAny(), parallel
    if kind == "none":
        return ToolChoiceNone(), parallel
    if kind == "tool":
        return ToolChoiceTool(name=choice.req_str("name")), parallel
    choice.fail("type", "must be 'auto', 'any', 'none' or 'tool'")


def _format(fmt: Obj) -> ResponseFormat:
    if fmt.req_str("type") != "json_schema":
        fmt.fail("type", "must be 'json_schema'")
    schema = fmt.obj("schema") or fmt.fail("schema", "is required")
    return ResponseFormat(kind="json_schema", schema=schema.value)


def _reasoning(root: Obj, effort: str | None) -> Reasoning | None:
    thinking = root.obj("thinking")
    if thinking is None:
        return Reasoning(effort=effort) if effort is not None else None
    mode = _THINKING_MODES.get(thinking.req_str("type"))
    if mode is None:
        root.release("thinking")  # a newer mode: passed through verbatim to Anthropic
        return Reasoning(effort=effort) if effort is not None else None
    budget = thinking.integer("budget_tokens", minimum=1) if mode == "enabled" else None
    if mode == "enabled" and budget is None:
        thinking.fail("budget_tokens", "is required")
    return Reasoning(
        mode=mode,
        budget_tokens=budget,
        effort=effort,
        display=thinking.string("display"),
    )


def decode_request(body: bytes) -> Request:
    """Decode a `POST /v1/messages` body; raises `InvalidRequest` naming the bad field.

    `system` becomes a leading `system` message; `metadata.user_id` becomes `user`;
    `output_config.format` or the beta `output_format` becomes `response_format`. Keys the model has
    no slot for (`context_management`, `container`, `mcp_servers`, `service_tier`, ...) and any
    unknown `output_config`/`metadata` members stay in `extra`.
    """
    root = parse_object(body, InvalidRequest)
    model = root.req_str("model")
    if not model.strip():
        root.fail("model", "must not be empty")
    max_tokens = root.integer("max_tokens", minimum=1)
    if max_tokens is None:
        root.fail("max_tokens", "is required")
    if not root.array("messages", required=True):
        root.fail("messages", "must not be empty")
    messages = _system(root) + tuple(_message(m) for m in root.items("messages"))
    tool_choice, parallel = _tool_choice(root)
    output_config = root.obj("output_config")
    response_format = None
    effort = None
    if output_config is not None:
        effort = output_config.string("effort")
        fmt = output_config.obj("format")
        response_format = _format(fmt) if fmt is not None else None
        if output_config.extras("anthropic") is not None:
            root.release("output_config")
    legacy_format = root.obj("output_format")
    if legacy_format is not None and response_format is None:
        response_format = _format(legacy_format)
    user = None
    metadata = root.obj("metadata")
    if metadata is not None:
        user = metadata.string("user_id")
        if metadata.extras("anthropic") is not None:
            root.release("metadata")
    return Request(
        model=model,
        messages=messages,
        tools=_tools(root),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        max_tokens=max_tokens,
        temperature=root.number("temperature", minimum=0, maximum=1),
        top_p=root.number("top_p", minimum=0, maximum=1),
        top_k=root.integer("top_k", minimum=0),
        stop=tuple(root.strings("stop_sequences") or ()),
        response_format=response_format,
        reasoning=_reasoning(root, effort),
        user=user,
        stream=bool(root.boolean("stream")),
        include_usage=True,
        extra=root.extras("anthropic"),
    )
