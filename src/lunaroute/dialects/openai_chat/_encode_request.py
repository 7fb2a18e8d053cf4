"""`model.Request` → OpenAI Chat Completions request body.

What happens to what OpenAI Chat cannot express (requests translated from Anthropic):

- `system` blocks become one leading `system` message; `cache_control` everywhere is dropped
  (OpenAI caches prompts automatically); `context_management`, `container`, `service_tier` and
  other Anthropic-only keys are dropped; `mcp_servers` raises `UnsupportedFeature`.
- A user turn's `tool_result` blocks become `tool` messages (ids unchanged) placed before the rest of
  the turn; `is_error` is dropped (the result text usually says so). Images inside a tool result
  cannot go in a `tool` message: they follow in a `user` message, introduced by a text part naming
  the tool call.
- Signed (Anthropic) thinking and redacted thinking in assistant turns are dropped; unsigned thinking
  is sent as `reasoning_content`. Unknown Anthropic blocks are dropped from assistant turns and raise
  `UnsupportedFeature` in user turns. Provider-hosted Anthropic tools are dropped; `tool_choice` and
  `parallel_tool_calls` are dropped when no tool is left.
- Thinking → `reasoning_effort`: see `effort_for` (budget ≤ 4,096 → low, ≤ 10,240 → medium, else
  high; an explicit `output_config.effort` wins, `max` → high; adaptive/disabled → unset).
- `top_k` is dropped. `metadata.user_id` becomes `user` when it is at most 64 characters (OpenAI's
  limit), else it is dropped. A JSON-schema `output_config.format` becomes `response_format`.
- Token limit: `max_completion_tokens`, or `max_tokens` when the client sent that legacy key.
- A streaming request always asks for the usage chunk when `include_usage` is set; Anthropic clients
  always set it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.errors import UnsupportedFeature
from lunaroute.model import (
    Base64Source,
    Block,
    BuiltinTool,
    DocumentBlock,
    FileSource,
    ImageBlock,
    Message,
    PlainTextSource,
    RefusalBlock,
    Request,
    ResponseFormat,
    TextBlock,
    ThinkingBlock,
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
from ._mapping import data_uri, effort_for

__all__ = ["encode_request", "encode_tool_call"]

USER_MAX_CHARS: Final = 64
_REFUSED_ANTHROPIC_KEYS: Final = ("mcp_servers",)

Json = dict[str, object]


def _user_part(block: Block) -> Json | None:
    match block:
        case TextBlock(text=text, extra=extra):
            return put_extras({"type": "text", "text": text}, extra, "openai")
        case ImageBlock(source=source, detail=detail, extra=extra):
            if isinstance(source, Base64Source):
                url = data_uri(source)
            elif isinstance(source, UrlSource):
                url = source.url
            else:
                raise UnsupportedFeature("image file_id sources are not supported by OpenAI chat")
            image: Json = {"url": url}
            if detail is not None:
                image["detail"] = detail
            return put_extras({"type": "image_url", "image_url": image}, extra, "openai")
        case DocumentBlock(source=source, title=title, filename=filename, extra=extra):
            if isinstance(source, PlainTextSource):
                return {"type": "text", "text": source.data}
            if isinstance(source, UrlSource):
                raise UnsupportedFeature("document URL sources are not supported by OpenAI chat")
            file: Json
            if isinstance(source, FileSource):
                file = {"file_id": source.file_id}
            else:
                file = {"file_data": data_uri(source), "filename": filename or title or "document.pdf"}
            return put_extras({"type": "file", "file": file}, extra, "openai")
        case UnknownBlock(dialect="openai", raw=raw):
            return msgspec.json.decode(raw)  # type: ignore[no-any-return]
        case UnknownBlock(kind=kind):
            raise UnsupportedFeature(f"content block {kind!r} is not supported by OpenAI chat")
        case RefusalBlock(text=text):
            return {"type": "text", "text": text}
    return None


def _content(blocks: list[Block]) -> str | list[Json]:
    parts = [p for p in (_user_part(b) for b in blocks) if p is not None]
    if len(parts) == 1 and parts[0].keys() == {"type", "text"} and parts[0]["type"] == "text":
        text = parts[0]["text"]
        assert isinstance(text, str)
        return text
    return parts


def _tool_messages(results: list[ToolResultBlock]) -> tuple[list[Json], list[Block]]:
    """`tool` messages for `results`, and the images they carried (for a following user message)."""
    messages: list[Json] = []
    media: list[Block] = []
    for result in results:
        content: str | list[Json]
        if isinstance(result.content, str):
            content = result.content
        else:
            texts = [p for p in result.content if not isinstance(p, ImageBlock | DocumentBlock)]
            others = [p for p in result.content if isinstance(p, ImageBlock | DocumentBlock)]
            content = [p for p in (_user_part(b) for b in texts) if p is not None] if texts else ""
            if others:
                media.append(TextBlock(text=f"Images and files returned by tool call {result.tool_use_id}:"))
                media.extend(others)
        message: Json = {"role": "tool", "tool_call_id": result.tool_use_id, "content": content}
        messages.append(put_extras(message, result.extra, "openai"))
    return messages, media


def encode_tool_call(block: ToolUseBlock) -> Json:
    arguments = block.raw_arguments
    if arguments is None:
        arguments = msgspec.json.encode(block.input).decode()
    call: Json = {"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}}
    return put_extras(call, block.extra, "openai")


def _assistant(message: Message) -> Json | None:
    texts: list[Block] = []
    reasoning: list[str] = []
    refusal: list[str] = []
    calls: list[Json] = []
    for block in message.content:
        match block:
            case TextBlock():
                texts.append(block)
            case ThinkingBlock(thinking=thinking, signature=None):
                reasoning.append(thinking)
            case RefusalBlock(text=text):
                refusal.append(text)
            case ToolUseBlock():
                calls.append(encode_tool_call(block))
            case UnknownBlock(dialect="openai", raw=raw):
                calls.append(msgspec.json.decode(raw))
    if not (texts or reasoning or refusal or calls):
        return None
    out: Json = {"role": "assistant", "content": _content(texts) if texts else None}
    if reasoning:
        out["reasoning_content"] = "".join(reasoning)
    if refusal:
        out["refusal"] = "".join(refusal)
    if calls:
        out["tool_calls"] = calls
    if message.name is not None:
        out["name"] = message.name
    return out


def _messages(messages: tuple[Message, ...]) -> list[Json]:
    out: list[Json] = []
    for message in messages:
        if message.role == "assistant":
            encoded = _assistant(message)
            if encoded is not None:
                out.append(put_extras(encoded, message.extra, "openai"))
            continue
        results = [b for b in message.content if isinstance(b, ToolResultBlock)]
        rest: list[Block] = [b for b in message.content if not isinstance(b, ToolResultBlock)]
        tool_messages, media = _tool_messages(results)
        out.extend(tool_messages)
        if message.role in ("system", "developer"):
            rest = [b for b in rest if isinstance(b, TextBlock)]
        else:
            rest = media + rest
            if results and not rest:
                continue
        role = "user" if message.role == "tool" else message.role
        encoded = {"role": role, "content": _content(rest)}
        if message.name is not None:
            encoded["name"] = message.name
        out.append(put_extras(encoded, message.extra, "openai"))
    return out


def _tool_choice(choice: ToolChoice) -> object:
    match choice:
        case ToolChoiceAuto():
            return "auto"
        case ToolChoiceAny():
            return "required"
        case ToolChoiceNone():
            return "none"
        case ToolChoiceTool(name=name):
            return {"type": "function", "function": {"name": name}}


def _response_format(fmt: ResponseFormat) -> Json:
    if fmt.kind != "json_schema":
        return {"type": fmt.kind}
    spec: Json = {"name": fmt.name or "response"}
    if fmt.description is not None:
        spec["description"] = fmt.description
    if fmt.schema is not None:
        spec["schema"] = fmt.schema
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


def _tools(req: Request) -> list[Json]:
    tools: list[Json] = []
    for tool in req.tools:
        if isinstance(tool, BuiltinTool):
            if tool.dialect == "openai":
                tools.append(msgspec.json.decode(tool.raw))
            continue
        function: Json = {"name": tool.name}
        if tool.description is not None:
            function["description"] = tool.description
        if tool.input_schema:
            function["parameters"] = tool.input_schema
        if tool.strict is not None:
            function["strict"] = tool.strict
        tools.append(put_extras({"type": "function", "function": function}, tool.extra, "openai"))
    return tools


def encode_request(req: Request, *, model_name: str, default_max_tokens: int = 4096) -> bytes:
    """Encode `req` for an OpenAI-compatible upstream (see the module docstring for what is dropped).

    `default_max_tokens` is unused: OpenAI does not require a token limit.
    """
    del default_max_tokens
    if req.extra is not None and req.extra.dialect == "anthropic":
        for key in _REFUSED_ANTHROPIC_KEYS:
            if key in req.extra.fields:
                raise UnsupportedFeature(f"{key} is not supported by OpenAI chat")
    out: Json = {"model": model_name, "messages": _messages(req.messages)}
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
        legacy = req.extra is not None and req.extra.get("openai", "max_tokens") is not None
        out["max_tokens" if legacy else "max_completion_tokens"] = req.max_tokens
    optional: dict[str, object] = {
        "temperature": req.temperature,
        "top_p": req.top_p,
        "seed": req.seed,
        "presence_penalty": req.presence_penalty,
        "frequency_penalty": req.frequency_penalty,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if req.stop:
        out["stop"] = list(req.stop)
    if req.response_format is not None:
        out["response_format"] = _response_format(req.response_format)
    if req.reasoning is not None and (effort := effort_for(req.reasoning)) is not None:
        out["reasoning_effort"] = effort
    if req.user is not None and len(req.user) <= USER_MAX_CHARS:
        out["user"] = req.user
    if req.stream:
        out["stream"] = True
        if req.include_usage:
            out["stream_options"] = {"include_usage": True}
    return msgspec.json.encode(put_extras(out, req.extra, "openai"))
