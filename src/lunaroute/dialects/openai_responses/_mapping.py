"""Responses API tables: status ⇄ stop reason, usage accounting, item ids, content-part sources."""

from __future__ import annotations

from typing import Final

from lunaroute.model import Base64Source, FileSource, ImageSource, StopReason, UrlSource, Usage

from .._json import Obj
from ..openai_chat._mapping import data_uri, parse_data_uri

__all__ = [
    "REDACTED_PREFIX",
    "decode_usage",
    "encode_image_source",
    "encode_usage",
    "image_source",
    "item_id",
    "status_for",
    "stop_reason_for",
]

REDACTED_PREFIX: Final = "lunaroute-redacted:"
"""Marks the `encrypted_content` of a reasoning item that carries Anthropic redacted thinking, so the client's
next turn gives the same redacted block back."""

_INCOMPLETE: Final[dict[StopReason, str]] = {
    "max_tokens": "max_output_tokens",
    "context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}
_FROM_INCOMPLETE: Final[dict[str, StopReason]] = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}


def status_for(reason: StopReason | None) -> tuple[str, str | None]:
    """The response `status` and `incomplete_details.reason` for a stop reason.

    Cut-short answers (`max_tokens`, a full context window, a content filter) are `incomplete`; every other
    end, a tool call included, is `completed`.
    """
    if reason is not None and reason in _INCOMPLETE:
        return "incomplete", _INCOMPLETE[reason]
    return "completed", None


def stop_reason_for(status: str | None, incomplete: str | None, *, calls_tools: bool) -> StopReason | None:
    """The stop reason a response `status` implies; a completed answer that calls a function is `tool_use`."""
    if status == "incomplete":
        return _FROM_INCOMPLETE.get(incomplete or "", "max_tokens")
    if status == "completed":
        return "tool_use" if calls_tools else "end_turn"
    return None


def decode_usage(usage: Obj) -> Usage:
    """Responses usage → model usage: `input_tokens` includes cache reads (`cached_tokens`) and writes
    (`cache_write_tokens`), the model's does not."""
    total = usage.integer("input_tokens", minimum=0) or 0
    output = usage.integer("output_tokens", minimum=0) or 0
    usage.get("total_tokens")
    details = usage.obj("input_tokens_details")
    cached = (details.integer("cached_tokens", minimum=0) or 0) if details is not None else 0
    written = (details.integer("cache_write_tokens", minimum=0) or 0) if details is not None else 0
    written = min(written, max(total - cached, 0))
    out_details = usage.obj("output_tokens_details")
    reasoning = (out_details.integer("reasoning_tokens", minimum=0) or 0) if out_details is not None else 0
    return Usage(
        input_tokens=max(total - cached - written, 0),
        output_tokens=output,
        cache_read_tokens=min(cached, total),
        cache_creation_tokens=written,
        reasoning_tokens=reasoning,
        extra=usage.extras("openai_responses"),
    )


def encode_usage(usage: Usage) -> dict[str, object]:
    total = usage.total_input_tokens
    details: dict[str, object] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_creation_tokens:
        details["cache_write_tokens"] = usage.cache_creation_tokens
    out: dict[str, object] = {
        "input_tokens": total,
        "input_tokens_details": details,
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": total + usage.output_tokens,
    }
    if usage.extra is not None and usage.extra.dialect == "openai_responses":
        for key, raw in usage.extra.fields.items():
            out.setdefault(key, raw)
    return out


def item_id(prefix: str, response_id: str, index: int) -> str:
    """A stable id for output item `index` of a response that had none (`msg_…`, `rs_…`, `fc_…`)."""
    base = response_id.removeprefix("resp_") or "0"
    return f"{prefix}_{base}_{index}"


def image_source(part: Obj) -> ImageSource:
    """The source of an `input_image` part: `image_url` (a data URI or a URL) or `file_id`."""
    url = part.string("image_url")
    if url is not None:
        return parse_data_uri(url)
    file_id = part.string("file_id")
    if file_id is None:
        part.fail("image_url", "image_url or file_id is required")
    return FileSource(file_id=file_id)


def encode_image_source(source: ImageSource) -> dict[str, object]:
    if isinstance(source, Base64Source):
        return {"image_url": data_uri(source)}
    if isinstance(source, UrlSource):
        return {"image_url": source.url}
    return {"file_id": source.file_id}
