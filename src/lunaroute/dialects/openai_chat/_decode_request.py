"""OpenAI Chat Completions request body → `model.Request`."""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.errors import InvalidRequest
from lunaroute.model import (
    Base64Source,
    Block,
    BuiltinTool,
    DocumentBlock,
    DocumentSource,
    FileSource,
    ImageBlock,
    Message,
    Reasoning,
    RefusalBlock,
    Request,
    ResponseFormat,
    Role,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolResultPart,
    ToolSpec,
    ToolUseBlock,
    UnknownBlock,
    parse_arguments,
)

from .._json import Obj, parse_object
from ._mapping import parse_data_uri

__all__ = ["decode_request", "decode_tool_calls"]

_ROLES: Final[dict[str, Role]] = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}


def _raw(o: Obj) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(o.value))


def _part(part: Obj) -> Block:
    kind = part.req_str("type")
    if kind == "text":
        return TextBlock(text=part.req_str("text"), extra=part.extras("openai"))
    if kind == "refusal":
        return RefusalBlock(text=part.req_str("refusal"))
    if kind == "image_url":
        image = part.obj("image_url") or part.fail("image_url", "is required")
        image_source = parse_data_uri(image.req_str("url"))
        return ImageBlock(source=image_source, detail=image.string("detail"), extra=part.extras("openai"))
    if kind == "file":
        file = part.obj("file") or part.fail("file", "is required")
        filename = file.string("filename")
        data = file.string("file_data")
        file_id = file.string("file_id")
        source: DocumentSource
        if data is not None:
            parsed = parse_data_uri(data)
            if isinstance(parsed, Base64Source):
                source = parsed
            else:
                source = Base64Source(media_type="application/pdf", data=data)
        elif file_id is not None:
            source = FileSource(file_id=file_id)
        else:
            file.fail("file_data", "file_data or file_id is required")
        return DocumentBlock(source=source, filename=filename, extra=part.extras("openai"))
    return UnknownBlock(dialect="openai", kind=kind, raw=_raw(part))


def _parts(o: Obj, key: str, *, required: bool) -> tuple[Block, ...]:
    value = o.get(key)
    if value is None:
        if required:
            o.fail(key, "is required")
        return ()
    if isinstance(value, str):
        return (TextBlock(text=value),)
    if not isinstance(value, list):
        o.fail(key, "must be a string or an array of content parts")
    return tuple(_part(p) for p in o.items(key))


def decode_tool_calls(o: Obj) -> list[Block]:
    """The `tool_calls` array of an assistant message (request or response) as blocks."""
    blocks: list[Block] = []
    for call in o.items("tool_calls"):
        kind = call.string("type") or "function"
        if kind != "function":
            blocks.append(UnknownBlock(dialect="openai", kind=kind, raw=_raw(call)))
            continue
        function = call.obj("function") or call.fail("function", "is required")
        arguments, raw = parse_arguments(function.string("arguments") or "")
        blocks.append(
            ToolUseBlock(
                id=call.req_str("id"),
                name=function.req_str("name"),
                input=arguments,
                raw_arguments=raw,
                extra=call.extras("openai"),
            )
        )
    return blocks


def _assistant(o: Obj) -> tuple[Block, ...]:
    blocks: list[Block] = []
    reasoning = o.string("reasoning_content")
    if reasoning is not None:
        blocks.append(ThinkingBlock(thinking=reasoning))
    blocks.extend(_parts(o, "content", required=False))
    refusal = o.string("refusal")
    if refusal is not None:
        blocks.append(RefusalBlock(text=refusal))
    blocks.extend(decode_tool_calls(o))
    return tuple(blocks)


def _tool_result(o: Obj) -> Message:
    tool_call_id = o.req_str("tool_call_id")
    value = o.get("content")
    content: str | tuple[ToolResultPart, ...]
    if value is None or isinstance(value, str):
        content = value or ""
    else:
        parts = _parts(o, "content", required=True)
        content = tuple(p for p in parts if isinstance(p, TextBlock | ImageBlock | DocumentBlock | UnknownBlock))
    result = ToolResultBlock(tool_use_id=tool_call_id, content=content, extra=o.extras("openai"))
    return Message(role="tool", content=(result,))


def _message(o: Obj) -> Message:
    wire_role = o.req_str("role")
    role = _ROLES.get(wire_role) or o.fail("role", f"unsupported role {wire_role!r}")
    if role == "tool":
        return _tool_result(o)
    name = o.string("name")
    content = _assistant(o) if role == "assistant" else _parts(o, "content", required=True)
    return Message(role=role, content=content, name=name, extra=o.extras("openai"))


def _tools(root: Obj) -> tuple[ToolSpec, ...]:
    tools: list[ToolSpec] = []
    for tool in root.items("tools"):
        kind = tool.req_str("type")
        if kind != "function":
            tools.append(BuiltinTool(dialect="openai", kind=kind, name=None, raw=_raw(tool)))
            continue
        function = tool.obj("function") or tool.fail("function", "is required")
        schema = function.obj("parameters")
        tools.append(
            Tool(
                name=function.req_str("name"),
                description=function.string("description"),
                input_schema=schema.value if schema is not None else {},
                strict=function.boolean("strict"),
                extra=tool.extras("openai"),
            )
        )
    return tuple(tools)


def _tool_choice(root: Obj) -> ToolChoice | None:
    value = root.get("tool_choice")
    if value is None:
        return None
    if isinstance(value, str):
        choices: dict[str, ToolChoice] = {
            "auto": ToolChoiceAuto(),
            "required": ToolChoiceAny(),
            "none": ToolChoiceNone(),
        }
        if value not in choices:
            root.fail("tool_choice", "must be 'auto', 'required', 'none' or a named function")
        return choices[value]
    choice = root.obj("tool_choice")
    assert choice is not None
    if choice.string("type") == "function":
        function = choice.obj("function") or choice.fail("function", "is required")
        return ToolChoiceTool(name=function.req_str("name"))
    root.release("tool_choice")  # allowed_tools / custom: kept verbatim for OpenAI upstreams
    return None


def _response_format(root: Obj) -> ResponseFormat | None:
    fmt = root.obj("response_format")
    if fmt is None:
        return None
    kind = fmt.req_str("type")
    if kind == "text":
        return ResponseFormat(kind="text")
    if kind == "json_object":
        return ResponseFormat(kind="json_object")
    if kind != "json_schema":
        fmt.fail("type", "must be 'text', 'json_object' or 'json_schema'")
    spec = fmt.obj("json_schema") or fmt.fail("json_schema", "is required")
    schema = spec.obj("schema")
    return ResponseFormat(
        kind="json_schema",
        name=spec.req_str("name"),
        description=spec.string("description"),
        schema=schema.value if schema is not None else None,
        strict=spec.boolean("strict"),
    )


def decode_request(body: bytes) -> Request:
    """Decode a `POST /v1/chat/completions` body; raises `InvalidRequest` naming the bad field.

    The legacy `max_tokens` is read into `Request.max_tokens` and also kept in the extras, so an
    OpenAI upstream receives the key the client used; `n`, `logprobs` and other OpenAI-only keys stay
    in the extras.
    """
    root = parse_object(body, InvalidRequest)
    model = root.req_str("model")
    if not model.strip():
        root.fail("model", "must not be empty")
    if not root.array("messages", required=True):
        root.fail("messages", "must not be empty")
    messages = tuple(_message(m) for m in root.items("messages"))
    max_tokens = root.integer("max_completion_tokens", minimum=1)
    legacy_max = root.integer("max_tokens", minimum=1)
    if legacy_max is not None:
        root.release("max_tokens")
        max_tokens = max_tokens if max_tokens is not None else legacy_max
    if root.integer("n", minimum=1) is not None:
        root.release("n")
    stop_value = root.get("stop")
    stop = (stop_value,) if isinstance(stop_value, str) else tuple(root.strings("stop") or ())
    stream_options = root.obj("stream_options")
    include_usage = bool(stream_options and stream_options.boolean("include_usage"))
    effort = root.string("reasoning_effort")
    return Request(
        model=model,
        messages=messages,
        tools=_tools(root),
        tool_choice=_tool_choice(root),
        parallel_tool_calls=root.boolean("parallel_tool_calls"),
        max_tokens=max_tokens,
        temperature=root.number("temperature", minimum=0, maximum=2),
        top_p=root.number("top_p", minimum=0, maximum=1),
        stop=stop,
        seed=root.integer("seed"),
        presence_penalty=root.number("presence_penalty", minimum=-2, maximum=2),
        frequency_penalty=root.number("frequency_penalty", minimum=-2, maximum=2),
        response_format=_response_format(root),
        reasoning=Reasoning(effort=effort) if effort is not None else None,
        user=root.string("user"),
        stream=bool(root.boolean("stream")),
        include_usage=include_usage,
        extra=root.extras("openai"),
    )
