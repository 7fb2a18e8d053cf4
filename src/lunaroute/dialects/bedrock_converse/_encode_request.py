"""`model.Request` → Converse request body (the model id travels in the URL, the stream flag in the path).

What happens to what Converse cannot express:

- `system` and `developer` messages, wherever they are, are hoisted in order into `system`.
- Consecutive messages of one role are merged (Converse wants the roles to alternate); `tool` messages become
  `toolResult` blocks of a user turn. Empty text blocks and messages left empty are skipped.
- Images and documents must be inline (base64) or an `s3://` URL; other URLs and uploaded-file ids raise
  `UnsupportedFeature`. Image formats: png, jpeg, gif, webp; document formats: pdf, csv, doc(x), xls(x), html,
  txt, md.
- Thinking with a signature is sent back as `reasoningContent`; unsigned thinking (from OpenAI-dialect history)
  is dropped, as Bedrock's Claude rejects it. A `cache_control` breakpoint becomes a `cachePoint` after its block.
- Reasoning, for Anthropic (Claude) model ids: the Anthropic `thinking` object in `additionalModelRequestFields`
  (`reasoning_effort` → a budget from the Anthropic table, lowered below `maxTokens`); with thinking on,
  `temperature` other than 1, `top_p` below 0.95 and `top_k` are dropped. For other model ids reasoning settings
  are not sent, nor are `output_config.effort` and the other Anthropic-only keys. `top_k` goes in
  `additionalModelRequestFields` for Claude model ids only.
- `tool_choice: none` sends no tools (or, when the history holds tool calls, which Converse requires a tool
  configuration for, the tools without a `toolChoice`). `parallel_tool_calls`, `seed`, the penalties, `user`
  and every other dialect-only key are not sent. Provider-hosted tools are dropped.
- `response_format` `json_schema` → `outputConfig.textFormat`; `json_object` raises `UnsupportedFeature`.
- `maxTokens` is always sent: `default_max_tokens` when the client sent none.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.dialects.anthropic_messages import budget_for
from lunaroute.errors import UnsupportedFeature
from lunaroute.model import (
    Base64Source,
    Block,
    BuiltinTool,
    CacheControl,
    DocumentBlock,
    FileSource,
    ImageBlock,
    Message,
    PlainTextSource,
    RedactedThinkingBlock,
    RefusalBlock,
    Request,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
    UnknownBlock,
    UrlSource,
)

from ._mapping import document_format, image_format

__all__ = ["encode_request", "is_anthropic_model"]

Json = dict[str, object]
_MIN_TOP_P_WITH_THINKING: Final = 0.95


def is_anthropic_model(model_id: str) -> bool:
    """Whether a Bedrock model id (or inference profile / ARN) names an Anthropic model."""
    lowered = model_id.lower()
    return "anthropic." in lowered or "claude" in lowered


def _cache_point(cache_control: CacheControl | None) -> list[Json]:
    if cache_control is None:
        return []
    point: Json = {"type": "default"}
    if cache_control.ttl:
        point["ttl"] = cache_control.ttl
    return [{"cachePoint": point}]


def _image(block: ImageBlock) -> Json:
    source = block.source
    if isinstance(source, Base64Source):
        fmt = image_format(source.media_type)
        if fmt is None:
            raise UnsupportedFeature(f"image type {source.media_type!r} is not supported by Bedrock Converse")
        return {"image": {"format": fmt, "source": {"bytes": source.data}}}
    if isinstance(source, UrlSource) and source.url.startswith("s3://"):
        fmt = image_format("image/" + source.url.rsplit(".", 1)[-1]) or "png"
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": source.url}}}}
    where = "uploaded files" if isinstance(source, FileSource) else "image URLs other than s3://"
    raise UnsupportedFeature(f"{where} are not supported by Bedrock Converse; send the image inline (base64)")


def _document(block: DocumentBlock) -> Json:
    source = block.source
    name = block.title or block.filename or "document"
    if isinstance(source, PlainTextSource):
        return {"document": {"format": "txt", "name": name, "source": {"text": source.data}}}
    if isinstance(source, Base64Source):
        fmt = document_format(source.media_type)
        if fmt is None:
            raise UnsupportedFeature(f"document type {source.media_type!r} is not supported by Bedrock Converse")
        return {"document": {"format": fmt, "name": name, "source": {"bytes": source.data}}}
    if isinstance(source, UrlSource) and source.url.startswith("s3://"):
        fmt = document_format("application/" + source.url.rsplit(".", 1)[-1]) or "pdf"
        return {"document": {"format": fmt, "name": name, "source": {"s3Location": {"uri": source.url}}}}
    raise UnsupportedFeature("documents must be inline (base64 or text) or s3:// URLs for Bedrock Converse")


def _result_part(part: ToolResultPart) -> list[Json]:
    match part:
        case TextBlock(text=text):
            return [{"text": text}] if text else []
        case ImageBlock():
            return [_image(part)]
        case DocumentBlock():
            return [_document(part)]
        case UnknownBlock(kind=kind):
            raise UnsupportedFeature(f"tool result part {kind!r} is not supported by Bedrock Converse")


def _tool_result(block: ToolResultBlock) -> Json:
    if isinstance(block.content, str):
        content: list[Json] = [{"text": block.content}] if block.content else []
    else:
        content = [wire for part in block.content for wire in _result_part(part)]
    # Converse rejects an empty result; an empty text stands for "no output".
    result: Json = {"toolUseId": block.tool_use_id, "content": content or [{"text": ""}]}
    if block.is_error:
        result["status"] = "error"
    return {"toolResult": result}


def _block(block: Block, *, assistant: bool) -> list[Json]:
    """The Converse blocks for one model block (none when it has no Converse form and may be left out)."""
    match block:
        case TextBlock(text=text, cache_control=cc):
            return [{"text": text}, *_cache_point(cc)] if text else []
        case RefusalBlock(text=text):
            return [{"text": text}] if text else []
        case ImageBlock(cache_control=cc):
            return [_image(block), *_cache_point(cc)]
        case DocumentBlock(cache_control=cc):
            return [_document(block), *_cache_point(cc)]
        case ToolUseBlock(id=id_, name=name, input=arguments, cache_control=cc):
            return [{"toolUse": {"toolUseId": id_, "name": name, "input": arguments}}, *_cache_point(cc)]
        case ToolResultBlock(cache_control=cc):
            return [_tool_result(block), *_cache_point(cc)]
        case ThinkingBlock(thinking=thinking, signature=signature):
            if not signature:
                return []
            return [{"reasoningContent": {"reasoningText": {"text": thinking, "signature": signature}}}]
        case RedactedThinkingBlock(data=data):
            return [{"reasoningContent": {"redactedContent": data}}]
        case UnknownBlock(kind=kind):
            if assistant:
                return []
            raise UnsupportedFeature(f"content block {kind!r} is not supported by Bedrock Converse")


def _system(req: Request) -> list[Json]:
    out: list[Json] = []
    for message in req.messages:
        if message.role in ("system", "developer"):
            for block in message.content:
                if isinstance(block, TextBlock) and block.text:
                    out += [{"text": block.text}, *_cache_point(block.cache_control)]
    return out


def _messages(messages: tuple[Message, ...]) -> list[Json]:
    out: list[Json] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        assistant = message.role == "assistant"
        content = [wire for block in message.content for wire in _block(block, assistant=assistant)]
        if not content:
            continue
        role = "assistant" if assistant else "user"
        if out and out[-1]["role"] == role:
            previous = out[-1]["content"]
            assert isinstance(previous, list)
            previous.extend(content)
        else:
            out.append({"role": role, "content": content})
    return out


def _has_tool_blocks(messages: list[Json]) -> bool:
    return any(
        isinstance(m["content"], list) and any("toolUse" in b or "toolResult" in b for b in m["content"])
        for m in messages
    )


def _tool_config(req: Request, messages: list[Json]) -> Json | None:
    tools: list[Json] = []
    for tool in req.tools:
        if isinstance(tool, BuiltinTool):
            continue
        tools += [_tool_spec(tool), *_cache_point(tool.cache_control)]
    if not tools:
        return None
    choice: Json | None = None
    match req.tool_choice:
        case ToolChoiceNone():
            if not _has_tool_blocks(messages):
                return None
        case ToolChoiceAny():
            choice = {"any": {}}
        case ToolChoiceTool(name=name):
            choice = {"tool": {"name": name}}
        case ToolChoiceAuto():
            choice = {"auto": {}}
        case None:
            pass
    config: Json = {"tools": tools}
    if choice is not None:
        config["toolChoice"] = choice
    return config


def _tool_spec(tool: Tool) -> Json:
    spec: Json = {"name": tool.name}
    if tool.description:
        spec["description"] = tool.description
    spec["inputSchema"] = {"json": tool.input_schema or {"type": "object", "properties": {}}}
    if tool.strict is not None:
        spec["strict"] = tool.strict
    return {"toolSpec": spec}


def _thinking(req: Request, max_tokens: int) -> Json | None:
    reasoning = req.reasoning
    if reasoning is None:
        return None
    if reasoning.mode is None:
        budget = budget_for(reasoning.effort, max_tokens) if reasoning.effort else None
        return {"type": "enabled", "budget_tokens": budget} if budget else None
    thinking: Json = {"type": reasoning.mode}
    if reasoning.mode == "enabled":
        thinking["budget_tokens"] = reasoning.budget_tokens
    return thinking


def _inference(req: Request, max_tokens: int, thinking_on: bool) -> Json:
    config: Json = {"maxTokens": max_tokens}
    temperature = req.temperature
    if thinking_on and temperature != 1.0:
        temperature = None
    top_p = req.top_p
    if thinking_on and top_p is not None and top_p < _MIN_TOP_P_WITH_THINKING:
        top_p = None
    if temperature is not None:
        config["temperature"] = temperature
    if top_p is not None:
        config["topP"] = top_p
    if req.stop:
        config["stopSequences"] = list(req.stop)
    return config


def _output_config(req: Request) -> Json | None:
    fmt = req.response_format
    if fmt is None or fmt.kind == "text":
        return None
    if fmt.kind == "json_object":
        raise UnsupportedFeature(
            "response_format json_object is not supported by Bedrock Converse; use json_schema",
            param="response_format",
        )
    schema: Json = {"schema": msgspec.json.encode(fmt.schema or {"type": "object"}).decode()}
    if fmt.name:
        schema["name"] = fmt.name
    if fmt.description:
        schema["description"] = fmt.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}


def encode_request(req: Request, *, model_name: str, default_max_tokens: int = 4096) -> bytes:
    """Encode `req` for Converse (see the module docstring for conversions and refusals)."""
    max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens
    out: Json = {}
    system = _system(req)
    if system:
        out["system"] = system
    messages = _messages(req.messages)
    out["messages"] = messages
    anthropic = is_anthropic_model(model_name)
    thinking = _thinking(req, max_tokens) if anthropic else None
    thinking_on = thinking is not None and thinking["type"] in ("enabled", "adaptive")
    out["inferenceConfig"] = _inference(req, max_tokens, thinking_on)
    tool_config = _tool_config(req, messages)
    if tool_config is not None:
        out["toolConfig"] = tool_config
    additional: Json = {}
    if thinking is not None:
        additional["thinking"] = thinking
    if anthropic and req.top_k is not None and not thinking_on:
        additional["top_k"] = req.top_k
    if additional:
        out["additionalModelRequestFields"] = additional
    output_config = _output_config(req)
    if output_config is not None:
        out["outputConfig"] = output_config
    return msgspec.json.encode(out)
