"""The normalized response: content, stop reason, usage; and the normalized error."""

from __future__ import annotations

from typing import Literal

import msgspec

from ._content import Block
from ._extra import Extras

__all__ = ["ErrorInfo", "ErrorKind", "Response", "StopReason", "Usage", "kind_for_status"]

StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "refusal",
    "pause_turn",
    "context_window_exceeded",
]
"""Why generation stopped (`refusal` is also OpenAI's `content_filter`)."""

ErrorKind = Literal[
    "invalid_request",
    "authentication",
    "billing",
    "permission",
    "not_found",
    "request_too_large",
    "rate_limit",
    "api_error",
    "overloaded",
    "timeout",
]


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts, Anthropic's accounting.

    `input_tokens` excludes cache reads and cache writes (OpenAI's `prompt_tokens` is the sum of all
    three); `output_tokens` includes `reasoning_tokens`. Every count is cumulative, so two reports of
    one response merge with a field-wise maximum (`merge`).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    extra: Extras | None = None

    @property
    def total_input_tokens(self) -> int:
        """Every prompt token, cached or not (OpenAI's `prompt_tokens`)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_creation_tokens

    def merge(self, later: Usage) -> Usage:
        """Combine with a later cumulative report of the same response."""
        return Usage(
            input_tokens=max(self.input_tokens, later.input_tokens),
            output_tokens=max(self.output_tokens, later.output_tokens),
            cache_read_tokens=max(self.cache_read_tokens, later.cache_read_tokens),
            cache_creation_tokens=max(self.cache_creation_tokens, later.cache_creation_tokens),
            reasoning_tokens=max(self.reasoning_tokens, later.reasoning_tokens),
            extra=later.extra if later.extra is not None else self.extra,
        )


class Response(msgspec.Struct, frozen=True, kw_only=True):
    """One complete assistant answer. `created` is OpenAI's Unix timestamp, when known."""

    id: str
    model: str
    content: tuple[Block, ...] = ()
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage = msgspec.field(default_factory=Usage)
    created: int | None = None
    extra: Extras | None = None


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An error a provider sent (or the gateway raised), independent of its wire shape.

    `status` is the HTTP status it came with; `type` is the original wire `type` string.
    """

    kind: ErrorKind
    message: str
    status: int
    type: str | None = None
    param: str | None = None
    code: str | None = None


_KIND_BY_STATUS: dict[int, ErrorKind] = {
    400: "invalid_request",
    401: "authentication",
    402: "billing",
    403: "permission",
    404: "not_found",
    408: "timeout",
    413: "request_too_large",
    429: "rate_limit",
    503: "overloaded",
    504: "timeout",
    529: "overloaded",
}


def kind_for_status(status: int) -> ErrorKind:
    """The error kind an HTTP status implies (other 4xx: invalid request; anything else: API error)."""
    if status in _KIND_BY_STATUS:
        return _KIND_BY_STATUS[status]
    return "invalid_request" if 400 <= status < 500 else "api_error"
