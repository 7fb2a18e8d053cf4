"""Converse ⇄ model tables: stop reasons, usage, image and document formats."""

from __future__ import annotations

from typing import Final

from lunaroute.model import StopReason, Usage

from .._json import Obj

__all__ = ["decode_stop_reason", "decode_usage", "document_format", "image_format", "media_type_of"]

_STOP: Final[dict[str, StopReason]] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "context_window_exceeded",
}

_IMAGE_FORMATS: Final[dict[str, str]] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_MEDIA_TYPES: Final[dict[str, str]] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
_DOCUMENT_FORMATS: Final[dict[str, str]] = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


def decode_stop_reason(value: str) -> StopReason:
    """Converse `stopReason` → model; `guardrail_intervened`/`content_filtered` are refusals, the
    `malformed_*` reasons and unknown values end the turn."""
    return _STOP.get(value, "end_turn")


def decode_usage(usage: Obj) -> Usage:
    """Converse `usage` → model usage. Converse counts like Anthropic: `inputTokens` excludes the cache reads
    and writes (`totalTokens` is the sum of all four)."""
    usage.get("totalTokens")
    usage.get("cacheDetails")
    return Usage(
        input_tokens=usage.integer("inputTokens", minimum=0) or 0,
        output_tokens=usage.integer("outputTokens", minimum=0) or 0,
        cache_read_tokens=usage.integer("cacheReadInputTokens", minimum=0) or 0,
        cache_creation_tokens=usage.integer("cacheWriteInputTokens", minimum=0) or 0,
    )


def image_format(media_type: str) -> str | None:
    """The Converse image `format` of a media type (png, jpeg, gif, webp), or None."""
    return _IMAGE_FORMATS.get(media_type.lower())


def media_type_of(image_format: str) -> str:
    return _MEDIA_TYPES.get(image_format, f"image/{image_format}")


def document_format(media_type: str) -> str | None:
    """The Converse document `format` of a media type (pdf, csv, doc, docx, xls, xlsx, html, txt, md), or None."""
    return _DOCUMENT_FORMATS.get(media_type.lower())
