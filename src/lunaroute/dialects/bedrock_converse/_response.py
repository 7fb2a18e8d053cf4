"""Converse answer body → `model.Response`."""

from __future__ import annotations

import uuid

from lunaroute.errors import UpstreamError
from lunaroute.model import Response, Usage

from .._json import parse_object
from ._blocks import decode_block
from ._mapping import decode_stop_reason, decode_usage

__all__ = ["decode_response", "new_message_id"]


def new_message_id() -> str:
    """Converse answers carry no id; each gets a fresh Anthropic-shaped one."""
    return f"msg_bdrk_{uuid.uuid4().hex[:24]}"


def decode_response(body: bytes) -> Response:
    """Decode a non-streaming answer; raises `UpstreamError` when it is unusable. The model name is left empty
    (the URL carried it; the client's encoder puts the requested one)."""
    root = parse_object(body, UpstreamError)
    output = root.obj("output") or root.fail("output", "is required")
    message = output.obj("message") or output.fail("message", "is required")
    content = tuple(decode_block(b) for b in message.items("content", required=True))
    stop = root.string("stopReason")
    usage = root.obj("usage")
    return Response(
        id=new_message_id(),
        model="",
        content=content,
        stop_reason=decode_stop_reason(stop) if stop is not None else None,
        usage=decode_usage(usage) if usage is not None else Usage(),
    )
