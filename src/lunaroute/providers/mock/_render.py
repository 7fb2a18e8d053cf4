"""Choose and run the renderer for an endpoint: request facts + canned answer -> status, body chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from lunaroute.types import Dialect, Endpoint

from ._answer import Answer, Usage
from ._anthropic import render_message, render_message_stream
from ._auxiliary import render_count_tokens, render_embeddings, render_models
from ._chat import render_chat_completion, render_chat_stream
from ._completions import render_completion, render_completion_stream
from ._errors import anthropic_error, default_error_type, openai_error
from ._request import RequestFacts, estimate_output_tokens
from ._responses import render_response, render_response_stream

__all__ = ["Rendered", "render_endpoint", "render_error"]

_DEFAULT_MODEL = {"anthropic": "claude-mock", "openai": "gpt-mock"}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered answer: status, body as chunks (one SSE event each when `stream`), the content type."""

    status: int
    chunks: tuple[bytes, ...]
    stream: bool

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.stream else "application/json"

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def render_error(dialect: Dialect, status: int, message: str, error_type: str | None = None) -> Rendered:
    """A JSON error body in `dialect` with `status` (the type defaults to what the real API sends)."""
    kind = error_type or default_error_type(dialect, status)
    body = anthropic_error(kind, message) if dialect == "anthropic" else openai_error(message, kind)
    return Rendered(status, (body,), False)


def render_endpoint(
    facts: RequestFacts,
    answer: Answer,
    *,
    pieces: int = 4,
    ping: bool = False,
    model_ids: Sequence[str] = (),
) -> Rendered:
    """Render `answer` as `facts.endpoint` answers it, streaming when `facts.stream`.

    The answer's empty model becomes the request's model (else a dialect default); a missing usage is
    estimated from `facts.input_tokens` and the answer's words. `model_ids` lists the models for
    `GET /models` (the answer's model when empty). Other endpoints give a 404 error body in their dialect.
    """
    dialect = facts.endpoint.dialect
    model = answer.model or facts.model or _DEFAULT_MODEL[dialect]
    usage = answer.usage or Usage(input_tokens=facts.input_tokens, output_tokens=estimate_output_tokens(answer.text))
    answer = msgspec.structs.replace(answer, model=model, usage=usage)
    stream = facts.stream
    match facts.endpoint:
        case Endpoint.ANTHROPIC_MESSAGES if stream:
            return Rendered(200, tuple(render_message_stream(answer, pieces=pieces, ping=ping)), True)
        case Endpoint.ANTHROPIC_MESSAGES:
            return Rendered(200, (render_message(answer),), False)
        case Endpoint.ANTHROPIC_COUNT_TOKENS:
            return Rendered(200, (render_count_tokens(facts.input_tokens),), False)
        case Endpoint.OPENAI_CHAT if stream:
            events = render_chat_stream(answer, pieces=pieces, include_usage=facts.include_usage)
            return Rendered(200, tuple(events), True)
        case Endpoint.OPENAI_CHAT:
            return Rendered(200, (render_chat_completion(answer),), False)
        case Endpoint.OPENAI_COMPLETIONS if stream:
            events = render_completion_stream(answer, pieces=pieces, include_usage=facts.include_usage)
            return Rendered(200, tuple(events), True)
        case Endpoint.OPENAI_COMPLETIONS:
            return Rendered(200, (render_completion(answer),), False)
        case Endpoint.OPENAI_RESPONSES if stream:
            return Rendered(200, tuple(render_response_stream(answer, pieces=pieces)), True)
        case Endpoint.OPENAI_RESPONSES:
            return Rendered(200, (render_response(answer),), False)
        case Endpoint.OPENAI_MODELS:
            return Rendered(200, (render_models(list(model_ids) or [model]),), False)
        case Endpoint.OPENAI_EMBEDDINGS:
            body = render_embeddings(
                facts.embedding_inputs,
                model=model,
                dimensions=facts.dimensions or 16,
                encoding_format="base64" if facts.base64 else "float",
                prompt_tokens=facts.input_tokens,
            )
            return Rendered(200, (body,), False)
        case _:
            return render_error(dialect, 404, f"No such endpoint: {facts.endpoint.value}")
