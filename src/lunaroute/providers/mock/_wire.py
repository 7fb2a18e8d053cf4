"""Wire synthesis: render an `Answer` as the exact bytes each provider API sends (pure functions).

Non-streaming renderers return one JSON body; streaming renderers return a list of SSE events as bytes, one
item per event, so callers can pace or cut them. `read_request` + `render_endpoint` pick the renderer an
endpoint needs and fill the answer's model and usage from the request.
"""

from __future__ import annotations

from ._answer import Answer, StopReason, ToolCall, Usage
from ._anthropic import render_message, render_message_stream
from ._auxiliary import embedding_vector, render_count_tokens, render_embeddings, render_models
from ._chat import render_chat_completion, render_chat_stream
from ._completions import render_completion, render_completion_stream
from ._errors import (
    anthropic_error,
    anthropic_stream_error,
    default_error_type,
    openai_error,
    openai_stream_error,
    responses_stream_error,
)
from ._gemini import (
    gemini_error,
    google_status,
    render_gemini_count_tokens,
    render_generate_content,
    render_generate_content_stream,
)
from ._render import Rendered, render_endpoint, render_error
from ._request import BadRequestBody, RequestFacts, read_request
from ._responses import render_response, render_response_stream
from ._sse import DONE, encode_json, split_text, sse

__all__ = [
    "DONE",
    "Answer",
    "BadRequestBody",
    "Rendered",
    "RequestFacts",
    "StopReason",
    "ToolCall",
    "Usage",
    "anthropic_error",
    "anthropic_stream_error",
    "default_error_type",
    "embedding_vector",
    "encode_json",
    "gemini_error",
    "google_status",
    "openai_error",
    "openai_stream_error",
    "read_request",
    "render_chat_completion",
    "render_chat_stream",
    "render_completion",
    "render_completion_stream",
    "render_count_tokens",
    "render_embeddings",
    "render_endpoint",
    "render_error",
    "render_gemini_count_tokens",
    "render_generate_content",
    "render_generate_content_stream",
    "render_message",
    "render_message_stream",
    "render_models",
    "render_response",
    "render_response_stream",
    "responses_stream_error",
    "split_text",
    "sse",
]
