"""Anthropic content blocks ⇄ model blocks (shared by requests and responses)."""

from __future__ import annotations

import msgspec

from lunaroute.errors import UnsupportedFeature
from lunaroute.model import (
    Base64Source,
    Block,
    CacheControl,
    DocumentBlock,
    DocumentSource,
    FileSource,
    ImageBlock,
    ImageSource,
    PlainTextSource,
    RedactedThinkingBlock,
    RefusalBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
    UnknownBlock,
    UrlSource,
)

from .._json import Obj, put_extras

__all__ = ["cache_control", "decode_block", "decode_blocks", "encode_block", "encode_cache_control"]

Json = dict[str, object]


def _raw(o: Obj) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(o.value))


def cache_control(o: Obj) -> CacheControl | None:
    value = o.obj("cache_control")
    if value is None:
        return None
    value.string("type")
    return CacheControl(ttl=value.string("ttl"))


def encode_cache_control(out: Json, value: CacheControl | None) -> Json:
    if value is not None:
        out["cache_control"] = {"type": "ephemeral"} | ({"ttl": value.ttl} if value.ttl else {})
    return out


def _source(o: Obj) -> DocumentSource | None:
    source = o.obj("source") or o.fail("source", "is required")
    kind = source.req_str("type")
    if kind == "base64":
        return Base64Source(media_type=source.req_str("media_type"), data=source.req_str("data"))
    if kind == "url":
        return UrlSource(url=source.req_str("url"))
    if kind == "file":
        return FileSource(file_id=source.req_str("file_id"))
    if kind == "text":
        return PlainTextSource(data=source.req_str("data"), media_type=source.string("media_type") or "text/plain")
    return None


def decode_block(o: Obj) -> Block:
    """One content block; a type the model does not know is kept whole as an `UnknownBlock`."""
    kind = o.req_str("type")
    if kind == "text":
        return TextBlock(text=o.req_str("text"), cache_control=cache_control(o), extra=o.extras("anthropic"))
    if kind == "image":
        source = _source(o)
        if isinstance(source, Base64Source | UrlSource | FileSource):
            return ImageBlock(source=source, cache_control=cache_control(o), extra=o.extras("anthropic"))
    elif kind == "document":
        doc = _source(o)
        if doc is not None:
            return DocumentBlock(
                source=doc, title=o.string("title"), cache_control=cache_control(o), extra=o.extras("anthropic")
            )
    elif kind == "tool_use":
        arguments = o.obj("input")
        return ToolUseBlock(
            id=o.req_str("id"),
            name=o.req_str("name"),
            input=arguments.value if arguments is not None else {},
            cache_control=cache_control(o),
            extra=o.extras("anthropic"),
        )
    elif kind == "tool_result":
        value = o.get("content")
        content: str | tuple[ToolResultPart, ...] = ""
        if isinstance(value, str):
            content = value
        elif value is not None:
            parts = [decode_block(p) for p in o.items("content")]
            content = tuple(p for p in parts if isinstance(p, TextBlock | ImageBlock | DocumentBlock | UnknownBlock))
        return ToolResultBlock(
            tool_use_id=o.req_str("tool_use_id"),
            content=content,
            is_error=bool(o.boolean("is_error")),
            cache_control=cache_control(o),
            extra=o.extras("anthropic"),
        )
    elif kind == "thinking":
        return ThinkingBlock(
            thinking=o.req_str("thinking"), signature=o.string("signature") or None, extra=o.extras("anthropic")
        )
    elif kind == "redacted_thinking":
        return RedactedThinkingBlock(data=o.req_str("data"))
    return UnknownBlock(dialect="anthropic", kind=kind, raw=_raw(o))


def decode_blocks(o: Obj, key: str) -> tuple[Block, ...]:
    """The content at `key`: a string is one text block."""
    value = o.get(key)
    if isinstance(value, str):
        return (TextBlock(text=value),)
    if value is None:
        o.fail(key, "is required")
    if not isinstance(value, list):
        o.fail(key, "must be a string or an array of content blocks")
    return tuple(decode_block(b) for b in o.items(key))


def _encode_source(source: ImageSource | DocumentSource) -> Json:
    match source:
        case Base64Source(media_type=media_type, data=data):
            return {"type": "base64", "media_type": media_type, "data": data}
        case UrlSource(url=url):
            return {"type": "url", "url": url}
        case FileSource(file_id=file_id):
            return {"type": "file", "file_id": file_id}
        case PlainTextSource(data=data, media_type=media_type):
            return {"type": "text", "media_type": media_type, "data": data}


def encode_block(block: Block, *, request: bool, assistant: bool) -> Json | None:
    """One block on the Anthropic wire, or None when it is dropped.

    In requests, empty text and unsigned thinking are dropped (Anthropic rejects both); in responses
    unsigned thinking is sent with an empty signature. A foreign unknown block is dropped from
    assistant content and raises `UnsupportedFeature` elsewhere.
    """
    match block:
        case TextBlock(text=text, cache_control=cc, extra=extra):
            if request and not text:
                return None
            return put_extras(encode_cache_control({"type": "text", "text": text}, cc), extra, "anthropic")
        case RefusalBlock(text=text):
            return {"type": "text", "text": text} if text or not request else None
        case ImageBlock(source=source, cache_control=cc, extra=extra):
            out: Json = {"type": "image", "source": _encode_source(source)}
            return put_extras(encode_cache_control(out, cc), extra, "anthropic")
        case DocumentBlock(source=source, title=title, cache_control=cc, extra=extra):
            out = {"type": "document", "source": _encode_source(source)}
            if title is not None:
                out["title"] = title
            return put_extras(encode_cache_control(out, cc), extra, "anthropic")
        case ToolUseBlock(id=id_, name=name, input=arguments, cache_control=cc, extra=extra):
            out = {"type": "tool_use", "id": id_, "name": name, "input": arguments}
            return put_extras(encode_cache_control(out, cc), extra, "anthropic")
        case ToolResultBlock(tool_use_id=tool_use_id, content=content, is_error=is_error, cache_control=cc):
            out = {"type": "tool_result", "tool_use_id": tool_use_id}
            if isinstance(content, str):
                out["content"] = content
            else:
                parts = (encode_block(p, request=request, assistant=False) for p in content)
                out["content"] = [p for p in parts if p is not None]
            if is_error:
                out["is_error"] = True
            return put_extras(encode_cache_control(out, cc), block.extra, "anthropic")
        case ThinkingBlock(thinking=thinking, signature=signature, extra=extra):
            if request and signature is None:
                return None
            out = {"type": "thinking", "thinking": thinking, "signature": signature or ""}
            return put_extras(out, extra, "anthropic")
        case RedactedThinkingBlock(data=data):
            return {"type": "redacted_thinking", "data": data}
        case UnknownBlock(dialect="anthropic", raw=raw):
            return msgspec.json.decode(raw)  # type: ignore[no-any-return]
        case UnknownBlock(kind=kind):
            if assistant:
                return None
            raise UnsupportedFeature(f"content block {kind!r} is not supported by Anthropic messages")
