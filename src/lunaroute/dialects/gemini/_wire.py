"""Typed views of Gemini's answers (`GenerateContentResponse`, `CountTokensResponse`), read with msgspec.

Only the fields the codec uses are declared; any other field is ignored, and a `null` reads as absent. A field
of the wrong type is a `msgspec.ValidationError`.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Candidate", "Chunk", "CountTokens", "Feedback", "Part", "UsageMetadata", "chunk_decoder"]


class _Camel(msgspec.Struct, rename="camel", omit_defaults=True):
    pass


class FunctionCall(_Camel):
    name: str | None = None
    id: str | None = None
    args: dict[str, Any] | None = None


class Blob(_Camel):
    mime_type: str | None = None
    data: str | None = None


class Part(_Camel):
    text: str | None = None
    thought: bool | None = None
    thought_signature: str | None = None
    function_call: FunctionCall | None = None
    inline_data: Blob | None = None


class Content(_Camel):
    parts: list[Part] | None = None
    role: str | None = None


class Candidate(_Camel):
    content: Content | None = None
    finish_reason: str | None = None


class UsageMetadata(_Camel):
    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    cached_content_token_count: int | None = None
    thoughts_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None


class Feedback(_Camel):
    block_reason: str | None = None
    block_reason_message: str | None = None


class Chunk(_Camel):
    """One `GenerateContentResponse` (a whole answer, or one event of a stream), or an `error` in its place."""

    candidates: list[Candidate] | None = None
    usage_metadata: UsageMetadata | None = None
    prompt_feedback: Feedback | None = None
    response_id: str | None = None
    model_version: str | None = None
    error: dict[str, Any] | None = None


class CountTokens(_Camel):
    total_tokens: int


_CHUNK = msgspec.json.Decoder(Chunk)


def chunk_decoder() -> msgspec.json.Decoder[Chunk]:
    """The shared decoder of `Chunk`s (msgspec decoders are safe to share)."""
    return _CHUNK
