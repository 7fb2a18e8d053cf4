"""Responses API request body (`POST /v1/responses`) → `model.Request`.

- `instructions` is a leading `system` message; `input` (a string, or a list of items) is the conversation.
  Items that follow each other on the model's side — assistant `message`s, `reasoning` and `function_call`
  items — form one assistant message; each `function_call_output` is a `tool` message. Item ids and
  statuses are not kept (a translated conversation is sent whole; `call_id` is the tool call id).
- `reasoning` items become thinking blocks: the summary texts (then any `reasoning_text` content) joined
  by blank lines, `encrypted_content` as the signature (content marked with `REDACTED_PREFIX` is redacted
  thinking given back).
- Built-in tools (`web_search`, `file_search`, `code_interpreter`, `custom`, ...) are `BuiltinTool`s and
  items the model has no type for are `UnknownBlock`s: an encoder of another dialect refuses or drops them
  as its docstring says; `check_translatable` refuses them before any translation.
- `max_output_tokens` → `max_tokens`; `reasoning.effort` → `Reasoning.effort`; `text.format` →
  `response_format`. A stream always reports usage (`include_usage`). Every other key (`store`,
  `previous_response_id`, `include`, `metadata`, `truncation`, ...) stays in the extras.
"""

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
    RedactedThinkingBlock,
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
    UrlSource,
    parse_arguments,
)

from .._json import Obj, parse_object
from ..openai_chat._mapping import parse_data_uri
from ._custom import decode_custom_tool
from ._mapping import REDACTED_PREFIX, image_source

__all__ = ["decode_part", "decode_reasoning", "decode_request"]

_ROLES: Final[dict[str, Role]] = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "assistant": "assistant",
}
_TEXT_PARTS: Final = ("input_text", "output_text")


def _raw(o: Obj) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(o.value))


def _document(part: Obj) -> DocumentBlock:
    filename = part.string("filename")
    data = part.string("file_data")
    file_id = part.string("file_id")
    file_url = part.string("file_url")
    source: DocumentSource
    if data is not None:
        parsed = parse_data_uri(data)
        source = parsed if isinstance(parsed, Base64Source) else Base64Source(media_type="application/pdf", data=data)
    elif file_id is not None:
        source = FileSource(file_id=file_id)
    elif file_url is not None:
        source = UrlSource(url=file_url)
    else:
        part.fail("file_data", "file_data, file_id or file_url is required")
    return DocumentBlock(source=source, filename=filename, extra=part.extras("openai_responses"))


def decode_part(part: Obj) -> Block:
    """One content part of a message or of a function call's output."""
    kind = part.req_str("type")
    if kind in _TEXT_PARTS:
        part.get("annotations")
        part.get("logprobs")
        return TextBlock(text=part.req_str("text"), extra=part.extras("openai_responses"))
    if kind == "refusal":
        return RefusalBlock(text=part.req_str("refusal"))
    if kind == "input_image":
        source = image_source(part)
        detail = part.string("detail")
        return ImageBlock(source=source, detail=detail, extra=part.extras("openai_responses"))
    if kind == "input_file":
        return _document(part)
    return UnknownBlock(dialect="openai_responses", kind=kind, raw=_raw(part))


def _content(o: Obj) -> tuple[Block, ...]:
    value = o.get("content")
    if isinstance(value, str):
        return (TextBlock(text=value),)
    if not isinstance(value, list):
        o.fail("content", "must be a string or an array of content parts")
    return tuple(decode_part(p) for p in o.items("content"))


def decode_reasoning(item: Obj) -> Block:
    """A `reasoning` item as a thinking block (or the redacted thinking it carries)."""
    item.get("id")
    item.get("status")
    encrypted = item.string("encrypted_content")
    if encrypted is not None and encrypted.startswith(REDACTED_PREFIX):
        item.get("summary")
        return RedactedThinkingBlock(data=encrypted[len(REDACTED_PREFIX) :])
    texts = [s.req_str("text") for s in item.items("summary")]
    texts += [c.req_str("text") for c in item.items("content") if c.string("type") == "reasoning_text"]
    return ThinkingBlock(thinking="\n\n".join(texts), signature=encrypted)


def _function_call(item: Obj) -> ToolUseBlock:
    item.get("id")
    item.get("status")
    arguments, raw = parse_arguments(item.string("arguments") or "")
    return ToolUseBlock(id=item.req_str("call_id"), name=item.req_str("name"), input=arguments, raw_arguments=raw)


def _function_output(item: Obj) -> Message:
    item.get("id")
    item.get("status")
    call_id = item.req_str("call_id")
    value = item.get("output")
    content: str | tuple[ToolResultPart, ...]
    if value is None or isinstance(value, str):
        content = value or ""
    else:
        if not isinstance(value, list):
            item.fail("output", "must be a string or an array of content parts")
        parts = [decode_part(p) for p in item.items("output")]
        content = tuple(p for p in parts if isinstance(p, TextBlock | ImageBlock | DocumentBlock | UnknownBlock))
    return Message(role="tool", content=(ToolResultBlock(tool_use_id=call_id, content=content),))


class _Conversation:
    """Items in order → messages; assistant-side items gather into one assistant message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._assistant: list[Block] = []

    def assistant(self, *blocks: Block) -> None:
        self._assistant.extend(blocks)

    def add(self, message: Message) -> None:
        self.flush()
        self.messages.append(message)

    def flush(self) -> None:
        if self._assistant:
            self.messages.append(Message(role="assistant", content=tuple(self._assistant)))
            self._assistant = []


def _item(item: Obj, conversation: _Conversation) -> None:
    kind = item.string("type") or "message"
    if kind == "message":
        item.get("id")
        item.get("status")
        wire_role = item.req_str("role")
        role = _ROLES.get(wire_role) or item.fail("role", f"unsupported role {wire_role!r}")
        content = _content(item)
        if role == "assistant":
            conversation.assistant(*content)
        else:
            conversation.add(Message(role=role, content=content, extra=item.extras("openai_responses")))
    elif kind == "reasoning":
        conversation.assistant(decode_reasoning(item))
    elif kind == "function_call":
        conversation.assistant(_function_call(item))
    elif kind == "custom_tool_call":
        item.get("id")
        item.get("status")
        call = ToolUseBlock(
            id=item.req_str("call_id"), name=item.req_str("name"), input={"input": item.req_str("input")}
        )
        conversation.assistant(call)
    elif kind in ("function_call_output", "custom_tool_call_output"):
        conversation.add(_function_output(item))
    elif kind.endswith("_call"):
        conversation.assistant(UnknownBlock(dialect="openai_responses", kind=kind, raw=_raw(item)))
    else:
        block = UnknownBlock(dialect="openai_responses", kind=kind, raw=_raw(item))
        conversation.add(Message(role="user", content=(block,)))


def _messages(root: Obj) -> tuple[Message, ...]:
    conversation = _Conversation()
    instructions = root.string("instructions")
    if instructions is not None:
        conversation.add(Message(role="system", content=(TextBlock(text=instructions),)))
    value = root.get("input")
    if isinstance(value, str):
        conversation.add(Message(role="user", content=(TextBlock(text=value),)))
    elif value is None:
        root.fail("input", "is required")
    else:
        if not isinstance(value, list):
            root.fail("input", "must be a string or an array of items")
        for item in root.items("input"):
            _item(item, conversation)
    conversation.flush()
    return tuple(conversation.messages)


def _tools(root: Obj) -> tuple[ToolSpec, ...]:
    tools: list[ToolSpec] = []
    for tool in root.items("tools"):
        kind = tool.req_str("type")
        if kind == "custom":
            tools.append(decode_custom_tool(tool))
            continue
        if kind != "function":
            name = tool.value.get("name")
            builtin_name = name if isinstance(name, str) else None
            tools.append(BuiltinTool(dialect="openai_responses", kind=kind, name=builtin_name, raw=_raw(tool)))
            continue
        schema = tool.obj("parameters")
        tools.append(
            Tool(
                name=tool.req_str("name"),
                description=tool.string("description"),
                input_schema=schema.value if schema is not None else {},
                strict=tool.boolean("strict"),
                extra=tool.extras("openai_responses"),
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
            root.fail("tool_choice", "must be 'auto', 'required', 'none' or an object")
        return choices[value]
    choice = root.obj("tool_choice")
    assert choice is not None
    if choice.string("type") == "function":
        return ToolChoiceTool(name=choice.req_str("name"))
    root.release("tool_choice")  # allowed_tools, hosted tools: kept verbatim, refused when translating
    return None


def _format(root: Obj) -> ResponseFormat | None:
    text = root.obj("text")
    if text is None:
        return None
    fmt = text.obj("format")
    if set(text.value) - {"format"}:
        root.release("text")  # verbosity: kept for a Responses upstream
    if fmt is None:
        return None
    kind = fmt.req_str("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind="text" if kind == "text" else "json_object")
    if kind != "json_schema":
        fmt.fail("type", "must be 'text', 'json_object' or 'json_schema'")
    schema = fmt.obj("schema")
    return ResponseFormat(
        kind="json_schema",
        name=fmt.string("name"),
        description=fmt.string("description"),
        schema=schema.value if schema is not None else None,
        strict=fmt.boolean("strict"),
    )


def _reasoning(root: Obj) -> Reasoning | None:
    reasoning = root.obj("reasoning")
    if reasoning is None:
        return None
    effort = reasoning.string("effort")
    if set(reasoning.value) - {"effort"}:
        root.release("reasoning")  # summary, generate_summary: kept for a Responses upstream
    return Reasoning(effort=effort) if effort is not None else None


def decode_request(body: bytes) -> Request:
    """Decode a `POST /v1/responses` body; raises `InvalidRequest` naming the bad field."""
    root = parse_object(body, InvalidRequest)
    model = root.req_str("model")
    if not model.strip():
        root.fail("model", "must not be empty")
    messages = _messages(root)
    stream = bool(root.boolean("stream"))
    return Request(
        model=model,
        messages=messages,
        tools=_tools(root),
        tool_choice=_tool_choice(root),
        parallel_tool_calls=root.boolean("parallel_tool_calls"),
        max_tokens=root.integer("max_output_tokens", minimum=1),
        temperature=root.number("temperature", minimum=0, maximum=2),
        top_p=root.number("top_p", minimum=0, maximum=1),
        response_format=_format(root),
        reasoning=_reasoning(root),
        user=root.string("user"),
        stream=stream,
        include_usage=True,
        extra=root.extras("openai_responses"),
    )
