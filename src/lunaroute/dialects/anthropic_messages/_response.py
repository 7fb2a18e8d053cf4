"""Anthropic `message` body ⇄ `model.Response`."""

from __future__ import annotations

import msgspec

from lunaroute.errors import UpstreamError
from lunaroute.model import Response, Usage

from .._json import parse_object, put_extras
from ._blocks import decode_block, encode_block
from ._mapping import decode_stop_reason, decode_usage, encode_stop_reason, encode_usage

__all__ = ["decode_response", "encode_response"]


def decode_response(body: bytes) -> Response:
    """Decode an upstream's non-streaming answer; raises `UpstreamError` when it is unusable."""
    root = parse_object(body, UpstreamError)
    root.get("type")
    root.get("role")
    content = tuple(decode_block(b) for b in root.items("content", required=True))
    stop = root.string("stop_reason")
    usage = root.obj("usage")
    return Response(
        id=root.req_str("id"),
        model=root.string("model") or "",
        content=content,
        stop_reason=decode_stop_reason(stop) if stop is not None else None,
        stop_sequence=root.string("stop_sequence"),
        usage=decode_usage(usage) if usage is not None else Usage(),
        extra=root.extras("anthropic"),
    )


def encode_response(resp: Response, *, model_name: str | None = None) -> bytes:
    """Encode `resp` as an Anthropic `message`; `model_name` replaces the upstream's model name.

    Refusal text becomes a text block (the stop reason says `refusal`); OpenAI reasoning becomes a
    thinking block with an empty signature.
    """
    blocks = (encode_block(b, request=False, assistant=True) for b in resp.content)
    out: dict[str, object] = {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": model_name or resp.model,
        "content": [b for b in blocks if b is not None],
        "stop_reason": encode_stop_reason(resp.stop_reason),
        "stop_sequence": resp.stop_sequence,
        "usage": encode_usage(resp.usage),
    }
    return msgspec.json.encode(put_extras(out, resp.extra, "anthropic"))
