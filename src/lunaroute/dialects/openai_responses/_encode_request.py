"""`model.Request` → Responses API request body (a provider of `provider_type: openai_responses`).

What happens to what the Responses API cannot express (requests translated from Chat Completions or
Anthropic Messages):

- The first message, when it is a `system` message of text only, becomes `instructions`; every other
  message is an input item (`system`/`developer`/`user` messages, assistant `message` items with
  `output_text`). `cache_control` is dropped (OpenAI caches prompts automatically).
- Assistant tool calls become `function_call` items and tool results `function_call_output` items (ids
  unchanged; images and files in a result stay in its `output` list). Signed thinking becomes a
  `reasoning` item whose `encrypted_content` is the signature (the answer side makes signatures from
  `encrypted_content`, so a conversation with a Responses model round-trips); unsigned thinking is dropped
  (OpenAI accepts no reasoning it did not sign); redacted thinking is marked with `REDACTED_PREFIX`.
- Function tools are sent with `strict: false` unless the client said otherwise (the Responses API
  defaults to strict schemas, which most client schemas do not satisfy). Hosted tools of other dialects are
  dropped, as in the other encoders.
- `max_tokens` → `max_output_tokens`; thinking → `reasoning.effort` (the chat encoder's table: budget ≤
  4,096 → low, ≤ 10,240 → medium, else high) with `summary: "auto"`, and `include:
  ["reasoning.encrypted_content"]` so the reasoning can be given back; `response_format` → `text.format`.
- `stop` sequences raise `UnsupportedFeature` (the Responses API has none); `top_k`, `seed` and the
  penalties are dropped. Every translated request is sent with `store: false`: the gateway sends the
  whole conversation each time.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.errors import UnsupportedFeature
from lunaroute.model import (
    Block,
    BuiltinTool,
    DocumentBlock,
    FileSource,
    ImageBlock,
    Message,
    PlainTextSource,
    RedactedThinkingBlock,
    RefusalBlock,
    Request,
    ResponseFormat,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
    UnknownBlock,
    UrlSource,
)

from .._json import put_extras
from ..openai_chat._mapping import data_uri, effort_for
from ._custom import custom_input, is_custom
from ._mapping import REDACTED_PREFIX, encode_image_source

__all__ = ["encode_part", "encode_request"]

Json = dict[str, object]
_DIALECT: Final = "openai_responses"


def encode_part(block: Block, *, assistant: bool) -> Json | None:
    """One content part of a message (`output_text` on the assistant side) or of a function call's output."""
    match block:
        case TextBlock(text=text, extra=extra):
            kind = "output_text" if assistant else "input_text"
            part: Json = {"type": kind, "text": text, "annotations": []} if assistant else {"type": kind, "text": text}
            return put_extras(part, extra, _DIALECT)
        case RefusalBlock(text=text):
            return {"type": "refusal", "refusal": text} if assistant else {"type": "input_text", "text": text}
        case ImageBlock(source=source, detail=detail, extra=extra):
            image: Json = {"type": "input_image", **encode_image_source(source), "detail": detail or "auto"}
            return put_extras(image, extra, _DIALECT)
        case DocumentBlock(source=source, title=title, filename=filename, extra=extra):
            if isinstance(source, PlainTextSource):
                return {"type": "input_text", "text": source.data}
            file: Json = {"type": "input_file"}
            if isinstance(source, FileSource):
                file["file_id"] = source.file_id
            elif isinstance(source, UrlSource):
                file["file_url"] = source.url
            else:
                file["file_data"] = data_uri(source)
                file["filename"] = filename or title or "document.pdf"
            return put_extras(file, extra, _DIALECT)
        case UnknownBlock(dialect="openai_responses", raw=raw):
            return msgspec.json.decode(raw)  # type: ignore[no-any-return]
        case UnknownBlock(kind=kind):
            raise UnsupportedFeature(f"content block {kind!r} is not supported by the Responses API")
    return None


def _parts(blocks: list[Block], *, assistant: bool) -> list[Json]:
    return [p for p in (encode_part(b, assistant=assistant) for b in blocks) if p is not None]


def _reasoning_item(block: ThinkingBlock | RedactedThinkingBlock) -> Json | None:
    if isinstance(block, RedactedThinkingBlock):
        return {"type": "reasoning", "summary": [], "encrypted_content": REDACTED_PREFIX + block.data}
    if block.signature is None:
        return None
    summary = [{"type": "summary_text", "text": block.thinking}] if block.thinking else []
    return {"type": "reasoning", "summary": summary, "encrypted_content": block.signature}


def _function_call(block: ToolUseBlock, custom: frozenset[str]) -> Json:
    if block.name in custom:
        return {"type": "custom_tool_call", "call_id": block.id, "name": block.name, "input": custom_input(block)}
    arguments = block.raw_arguments
    if arguments is None:
        arguments = msgspec.json.encode(block.input).decode()
    return {"type": "function_call", "call_id": block.id, "name": block.name, "arguments": arguments}


def _assistant(message: Message, custom: frozenset[str]) -> list[Json]:
    items: list[Json] = []
    texts: list[Block] = []

    def flush() -> None:
        if texts:
            items.append({"type": "message", "role": "assistant", "content": _parts(texts, assistant=True)})
            texts.clear()

    for block in message.content:
        match block:
            case TextBlock() | RefusalBlock():
                texts.append(block)
            case ThinkingBlock() | RedactedThinkingBlock():
                flush()
                item = _reasoning_item(block)
                if item is not None:
                    items.append(item)
            case ToolUseBlock():
                flush()
                items.append(_function_call(block, custom))
            case UnknownBlock(dialect="openai_responses", raw=raw):
                flush()
                items.append(msgspec.json.decode(raw))
    flush()
    return items


def _function_output(result: ToolResultBlock, custom_calls: set[str]) -> Json:
    output: object = result.content
    if not isinstance(result.content, str):
        output = _parts(list(result.content), assistant=False)
    kind = "custom_tool_call_output" if result.tool_use_id in custom_calls else "function_call_output"
    return {"type": kind, "call_id": result.tool_use_id, "output": output}


def _input(messages: tuple[Message, ...], custom: frozenset[str]) -> list[Json]:
    items: list[Json] = []
    custom_calls: set[str] = set()
    for message in messages:
        if message.role == "assistant":
            items.extend(_assistant(message, custom))
            custom_calls.update(b.id for b in message.content if isinstance(b, ToolUseBlock) and b.name in custom)
            continue
        rest: list[Block] = []
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                items.append(_function_output(block, custom_calls))
            elif isinstance(block, UnknownBlock) and block.dialect == _DIALECT and message.role != "tool":
                items.append(msgspec.json.decode(block.raw))
            else:
                rest.append(block)
        if message.role in ("system", "developer"):
            rest = [b for b in rest if isinstance(b, TextBlock)]
        parts = _parts(rest, assistant=False)
        if parts:
            role = "user" if message.role == "tool" else message.role
            item: Json = {"type": "message", "role": role, "content": parts}
            items.append(put_extras(item, message.extra, _DIALECT))
    return items


def _instructions(messages: tuple[Message, ...]) -> tuple[str | None, tuple[Message, ...]]:
    if messages and messages[0].role == "system" and messages[0].extra is None:
        blocks = messages[0].content
        if len(blocks) == 1 and isinstance(blocks[0], TextBlock) and blocks[0].extra is None:
            return blocks[0].text, messages[1:]
    return None, messages


def _tools(req: Request) -> list[Json]:
    tools: list[Json] = []
    for tool in req.tools:
        if isinstance(tool, BuiltinTool):
            if tool.dialect == _DIALECT:
                tools.append(msgspec.json.decode(tool.raw))
            continue
        if is_custom(tool):
            custom: Json = {"type": "custom", "name": tool.name}
            if tool.description is not None:
                custom["description"] = tool.description
            tools.append(put_extras(custom, tool.extra, _DIALECT))
            continue
        out: Json = {"type": "function", "name": tool.name}
        if tool.description is not None:
            out["description"] = tool.description
        out["parameters"] = tool.input_schema or {"type": "object", "properties": {}}
        out["strict"] = bool(tool.strict)
        tools.append(put_extras(out, tool.extra, _DIALECT))
    return tools


def _tool_choice(choice: ToolChoice) -> object:
    match choice:
        case ToolChoiceAuto():
            return "auto"
        case ToolChoiceAny():
            return "required"
        case ToolChoiceNone():
            return "none"
        case ToolChoiceTool(name=name):
            return {"type": "function", "name": name}


def _merged(req: Request, key: str, values: Json) -> Json:
    """`values` over the same-dialect raw object `key` the client sent (its other keys kept)."""
    raw = req.extra.get(_DIALECT, key) if req.extra is not None else None
    base = msgspec.json.decode(raw) if raw is not None else None
    return {**base, **values} if isinstance(base, dict) else values


def _format(fmt: ResponseFormat) -> Json:
    if fmt.kind != "json_schema":
        return {"type": fmt.kind}
    out: Json = {"type": "json_schema", "name": fmt.name or "response"}
    if fmt.description is not None:
        out["description"] = fmt.description
    out["schema"] = fmt.schema if fmt.schema is not None else {"type": "object"}
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    return out


def encode_request(req: Request, *, model_name: str, default_max_tokens: int = 4096) -> bytes:
    """Encode `req` for a Responses upstream (see the module docstring for what is converted or refused).

    `default_max_tokens` is unused: the Responses API does not require a token limit.
    """
    del default_max_tokens
    if req.stop:
        raise UnsupportedFeature("stop sequences are not supported by the Responses API", param="stop")
    same = req.extra is not None and req.extra.dialect == _DIALECT
    instructions, messages = _instructions(req.messages)
    out: Json = {"model": model_name}
    if instructions is not None:
        out["instructions"] = instructions
    custom = frozenset(t.name for t in req.tools if isinstance(t, Tool) and is_custom(t))
    out["input"] = _input(messages, custom)
    tools = _tools(req)
    if tools:
        out["tools"] = tools
        if req.tool_choice is not None:
            out["tool_choice"] = _tool_choice(req.tool_choice)
        if req.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = req.parallel_tool_calls
    elif isinstance(req.tool_choice, ToolChoiceNone):
        out["tool_choice"] = "none"
    if req.max_tokens is not None:
        out["max_output_tokens"] = req.max_tokens
    if req.temperature is not None:
        out["temperature"] = req.temperature
    if req.top_p is not None:
        out["top_p"] = req.top_p
    if req.response_format is not None:
        out["text"] = _merged(req, "text", {"format": _format(req.response_format)})
    if req.reasoning is not None and (effort := effort_for(req.reasoning)) is not None:
        out["reasoning"] = _merged(
            req, "reasoning", {"effort": effort} if same else {"effort": effort, "summary": "auto"}
        )
        if not same:
            out["include"] = ["reasoning.encrypted_content"]
    if req.user is not None:
        out["user"] = req.user
    if req.stream:
        out["stream"] = True
    if not same:
        out["store"] = False
    return msgspec.json.encode(put_extras(out, req.extra, _DIALECT))
