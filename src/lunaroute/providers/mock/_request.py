"""What a canned answer needs from a request body: a tolerant typed read and deterministic token counts."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from lunaroute.types import Endpoint

__all__ = [
    "BadRequestBody",
    "RequestFacts",
    "estimate_input_tokens",
    "estimate_output_tokens",
    "read_request",
]


class BadRequestBody(ValueError):
    """The body is not a JSON object of the expected field types; `str(exc)` says why."""


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class _GenerationView(msgspec.Struct):
    """The fields of a messages / chat / responses / completions / count_tokens body; others are ignored."""

    model: str | None = None
    stream: bool | None = None
    stream_options: _StreamOptions | None = None


class _EmbeddingsView(msgspec.Struct):
    model: str | None = None
    input: str | list[str | int | list[int]] | None = None
    dimensions: int | None = None
    encoding_format: str | None = None


_GENERATION = msgspec.json.Decoder(_GenerationView)
_EMBEDDINGS = msgspec.json.Decoder(_EmbeddingsView)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The hashable summary of a request that fully decides the canned answer's bytes."""

    endpoint: Endpoint
    model: str | None
    stream: bool
    include_usage: bool
    input_tokens: int
    embedding_inputs: tuple[str, ...] = ()
    dimensions: int | None = None
    base64: bool = False


def estimate_input_tokens(body: bytes) -> int:
    """About four bytes a token, at least one."""
    return max(1, len(body) // 4)


def estimate_output_tokens(text: str) -> int:
    """The answer's word count, at least one."""
    return max(1, len(text.split()))


def read_request(endpoint: Endpoint, body: bytes, stream: bool | None = None) -> RequestFacts:
    """Read the facts from `body`; `stream=None` takes it from the body's `stream` field.

    Raises `BadRequestBody` when a body that must be a JSON object is not one (the models list reads none).
    """
    if endpoint is Endpoint.OPENAI_MODELS:
        return RequestFacts(endpoint, None, False, False, 0)
    try:
        if endpoint is Endpoint.OPENAI_EMBEDDINGS:
            emb = _EMBEDDINGS.decode(body)
            return RequestFacts(
                endpoint,
                emb.model,
                False,
                False,
                estimate_input_tokens(body),
                embedding_inputs=_embedding_texts(emb.input),
                dimensions=emb.dimensions,
                base64=emb.encoding_format == "base64",
            )
        view = _GENERATION.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequestBody(f"Could not parse the request body: {exc}") from None
    include_usage = bool(view.stream_options and view.stream_options.include_usage)
    streaming = bool(view.stream) if stream is None else stream
    if endpoint is Endpoint.ANTHROPIC_COUNT_TOKENS:
        streaming = False
    return RequestFacts(endpoint, view.model, streaming, include_usage, estimate_input_tokens(body))


def _embedding_texts(value: str | list[str | int | list[int]] | None) -> tuple[str, ...]:
    """Embedding inputs as texts: a string, a list of strings, or token arrays (rendered as their JSON)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if value and all(isinstance(item, int) for item in value):
        return (msgspec.json.encode(value).decode(),)
    return tuple(item if isinstance(item, str) else msgspec.json.encode(item).decode() for item in value)
