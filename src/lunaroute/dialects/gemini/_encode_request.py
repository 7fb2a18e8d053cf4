"""`model.Request` → Gemini `generateContent` request body (also used inside `countTokens`).

What happens to what Gemini cannot express, or expresses differently:

- `system`/`developer` messages become `systemInstruction` (text only; a later instruction message is added to
  it in order). `assistant` is the `model` role; `tool` results go in a `user` turn.
- Tool calls are `functionCall` parts with their ids; tool results are `functionResponse` parts named after the
  call they answer (Gemini wants the name; it is looked up from the conversation's earlier call, so a result
  whose call is not in the conversation is a 400). A text result is sent as `{"output": text}` (a JSON object
  result as it is); an error result as `{"error": text}`. Images in a tool result follow as `inlineData` parts.
- Images and PDFs: inline data as `inlineData`; `gs://` and Files-API URLs as `fileData`; other URLs and
  provider file ids cannot be fetched by Gemini and are a 400. Plain-text documents are text parts.
- Thinking: unsigned thinking is dropped (Gemini does not take it back). A thinking block's `signature` is
  Gemini's `thoughtSignature`: it is attached to the part that follows it in the turn, where Gemini put it. A
  model turn with function calls but no signature (history from another provider or an OpenAI client) marks
  its first call with the validator-skipping signature Google documents for that case. Redacted thinking
  (Anthropic's) is dropped. Effort and budgets: `_mapping.thinking_config`.
- `cache_control`, `parallel_tool_calls`, `user`, provider-hosted tools, and unknown blocks of other dialects
  are dropped (Gemini has no such fields). What would change the answer is refused with `UnsupportedFeature`:
  OpenAI's `n > 1`, `logprobs`, audio output and legacy `functions`; Anthropic's `mcp_servers`.
- Tool schemas go in `parametersJsonSchema` (full JSON Schema: `$schema`, `additionalProperties`... accepted);
  a JSON-schema response format in `responseJsonSchema`.
"""

from __future__ import annotations

import mimetypes
from typing import Final

import msgspec

from lunaroute.errors import InvalidRequest, UnsupportedFeature
from lunaroute.model import (
    Base64Source,
    Block,
    BuiltinTool,
    DocumentBlock,
    ImageBlock,
    Message,
    PlainTextSource,
    RefusalBlock,
    Request,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
    UrlSource,
)

from ._mapping import thinking_config

__all__ = ["SKIP_SIGNATURE", "encode_contents", "encode_request"]

Json = dict[str, object]

SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
"""The `thoughtSignature` Google documents for function calls whose real signature is not available."""
_FETCHABLE: Final = ("gs://", "https://generativelanguage.googleapis.com/")


def _media(source: Base64Source | UrlSource | PlainTextSource | object, what: str) -> Json:
    if isinstance(source, Base64Source):
        return {"inlineData": {"mimeType": source.media_type, "data": source.data}}
    if isinstance(source, UrlSource):
        if not source.url.startswith(_FETCHABLE):
            raise UnsupportedFeature(f"{what} URLs other than gs:// or Gemini file URIs are not supported by Gemini")
        mime = mimetypes.guess_type(source.url)[0] or "application/octet-stream"
        return {"fileData": {"mimeType": mime, "fileUri": source.url}}
    raise UnsupportedFeature(f"{what} file ids are not supported by Gemini")


def _part(block: Block | ToolResultPart) -> Json | None:
    match block:
        case TextBlock(text=text) | RefusalBlock(text=text):
            return {"text": text}
        case ImageBlock(source=source):
            return _media(source, "image")
        case DocumentBlock(source=PlainTextSource(data=data)):
            return {"text": data}
        case DocumentBlock(source=source):
            return _media(source, "document")
    return None


def _response_object(result: ToolResultBlock) -> tuple[Json, list[Json]]:
    """The `functionResponse.response` object and the media parts that follow it."""
    media: list[Json] = []
    if isinstance(result.content, str):
        text = result.content
    else:
        texts: list[str] = []
        for part in result.content:
            if isinstance(part, TextBlock):
                texts.append(part.text)
            elif (encoded := _part(part)) is not None:
                media.append(encoded)
        text = "\n".join(texts)
    if not result.is_error and text.startswith("{"):
        try:
            value = msgspec.json.decode(text)
        except (msgspec.DecodeError, ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value, media
    return {"error" if result.is_error else "output": text}, media


def _user_parts(message: Message, names: dict[str, str]) -> list[Json]:
    parts: list[Json] = []
    trailing: list[Json] = []
    for block in message.content:
        if isinstance(block, ToolResultBlock):
            name = names.get(block.tool_use_id)
            if name is None:
                raise InvalidRequest(
                    f"tool result {block.tool_use_id!r} answers no tool call of this conversation; "
                    "Gemini needs the called function's name"
                )
            response, media = _response_object(block)
            parts.append({"functionResponse": {"id": block.tool_use_id, "name": name, "response": response}})
            trailing.extend(media)
        elif (part := _part(block)) is not None:
            parts.append(part)
    return parts + trailing


def _model_parts(message: Message) -> list[Json]:
    parts: list[Json] = []
    signature: str | None = None
    signed = False
    for block in message.content:
        part: Json | None = None
        match block:
            case ThinkingBlock(signature=str() as sig):
                signature = sig
                continue
            case ToolUseBlock(id=call_id, name=name, input=args):
                part = {"functionCall": {"id": call_id, "name": name, "args": args}}
            case _:
                part = _part(block)
        if part is None:
            continue
        if signature is not None:
            part["thoughtSignature"] = signature
            signature, signed = None, True
        parts.append(part)
    if signature is not None:
        # A signature with nothing after it (a turn that only thought): keep it on an empty thought part.
        parts.append({"text": "", "thought": True, "thoughtSignature": signature})
        signed = True
    if not signed:
        for part in parts:
            if "functionCall" in part:
                part["thoughtSignature"] = SKIP_SIGNATURE
                break
    return parts


def encode_contents(messages: tuple[Message, ...]) -> tuple[list[Json], Json | None]:
    """`contents` and `systemInstruction` (None when there is none) for `messages`."""
    names = {
        block.id: block.name
        for message in messages
        if message.role == "assistant"
        for block in message.content
        if isinstance(block, ToolUseBlock)
    }
    contents: list[Json] = []
    system: list[Json] = []
    for message in messages:
        if message.role in ("system", "developer"):
            system.extend({"text": b.text} for b in message.content if isinstance(b, TextBlock))
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = _model_parts(message) if role == "model" else _user_parts(message, names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            previous = contents[-1]["parts"]
            assert isinstance(previous, list)
            previous.extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents, ({"parts": system} if system else None)


def _tool_config(choice: ToolChoice) -> Json:
    config: Json
    match choice:
        case ToolChoiceAuto():
            config = {"mode": "AUTO"}
        case ToolChoiceAny():
            config = {"mode": "ANY"}
        case ToolChoiceNone():
            config = {"mode": "NONE"}
        case ToolChoiceTool(name=name):
            config = {"mode": "ANY", "allowedFunctionNames": [name]}
    return {"functionCallingConfig": config}


def _declarations(req: Request) -> list[Json]:
    out: list[Json] = []
    for tool in req.tools:
        if isinstance(tool, BuiltinTool):
            continue
        declaration: Json = {"name": tool.name}
        if tool.description is not None:
            declaration["description"] = tool.description
        if tool.input_schema:
            declaration["parametersJsonSchema"] = tool.input_schema
        out.append(declaration)
    return out


def _generation_config(req: Request, model_name: str) -> Json:
    config: Json = {}
    optional: dict[str, object] = {
        "maxOutputTokens": req.max_tokens,
        "temperature": req.temperature,
        "topP": req.top_p,
        "topK": req.top_k,
        "seed": req.seed,
        "presencePenalty": req.presence_penalty,
        "frequencyPenalty": req.frequency_penalty,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    if req.stop:
        config["stopSequences"] = list(req.stop)
    fmt = req.response_format
    if fmt is not None and fmt.kind != "text":
        config["responseMimeType"] = "application/json"
        if fmt.schema is not None:
            config["responseJsonSchema"] = fmt.schema
    if req.reasoning is not None and (thinking := thinking_config(req.reasoning, model_name)) is not None:
        config["thinkingConfig"] = thinking
    return config


def request_object(req: Request, *, model_name: str) -> Json:
    """The request as a JSON object (before encoding); `countTokens` wraps it."""
    contents, system = encode_contents(req.messages)
    out: Json = {"contents": contents}
    if system is not None:
        out["systemInstruction"] = system
    declarations = _declarations(req)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
        if req.tool_choice is not None:
            out["toolConfig"] = _tool_config(req.tool_choice)
    generation = _generation_config(req, model_name)
    if generation:
        out["generationConfig"] = generation
    return out


def _refuse_foreign_features(req: Request) -> None:
    extra = req.extra
    if extra is None:
        return
    fields = extra.fields
    if extra.dialect == "anthropic":
        if "mcp_servers" in fields:
            raise UnsupportedFeature("mcp_servers is not supported by Gemini", param="mcp_servers")
        return
    values = {k: msgspec.json.decode(fields[k]) for k in ("n", "logprobs", "modalities") if k in fields}
    if isinstance(values.get("n"), int) and values["n"] > 1:
        raise UnsupportedFeature("n > 1 (several choices) is not supported by the Gemini provider", param="n")
    if values.get("logprobs") is True:
        raise UnsupportedFeature("logprobs are not supported by the Gemini provider", param="logprobs")
    modalities = values.get("modalities")
    if (isinstance(modalities, list) and "audio" in modalities) or "audio" in fields:
        raise UnsupportedFeature("audio output is not supported by the Gemini provider", param="audio")
    if "functions" in fields:
        raise UnsupportedFeature("legacy `functions` are not supported; use `tools`", param="functions")


def encode_request(req: Request, *, model_name: str, default_max_tokens: int = 4096) -> bytes:
    """Encode `req` for Gemini (see the module docstring for what is converted or dropped).

    The model and the stream flag are not in a Gemini body: they are in the URL the provider builds.
    `default_max_tokens` is unused: Gemini does not require a token limit.
    """
    del default_max_tokens
    _refuse_foreign_features(req)
    return msgspec.json.encode(request_object(req, model_name=model_name))


def encode_count_request(req: Request, *, model_name: str) -> bytes:
    """A `countTokens` body counting everything `generateContent` would be sent (system and tools included)."""
    inner = request_object(req, model_name=model_name)
    inner["model"] = f"models/{model_name}"
    return msgspec.json.encode({"generateContentRequest": inner})
