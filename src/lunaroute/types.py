"""The small interfaces that join the packages: endpoints, upstream calls and responses, and the Protocols.

Every value that crosses a package boundary is one of the types here (or a `lunaroute.model` struct); no
package hands another a plain dict.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import msgspec

__all__ = [
    "Attempt",
    "Dialect",
    "Endpoint",
    "ExchangeRecord",
    "Headers",
    "Outcome",
    "Provider",
    "ProviderDialect",
    "UpstreamCall",
    "UpstreamResponse",
]

Dialect = Literal["openai", "anthropic"]
"""The API dialect a client speaks on a given request (the "listener" in recordings)."""

ProviderDialect = Literal["openai", "anthropic", "bedrock", "gemini", "any"]
"""The dialect a provider speaks upstream; `any` answers each client in its own dialect (the mock). `bedrock` (AWS
Bedrock Converse) and `gemini` are upstream-only: no client speaks them, every call to them is translated."""

Headers = Sequence[tuple[str, str]]
"""Header pairs, names lower-cased, order kept, repeats allowed."""


class Endpoint(enum.StrEnum):
    """What a request is, decided from its method, path and headers (see `lunaroute.routing.classify`)."""

    ANTHROPIC_MESSAGES = "anthropic.messages"
    ANTHROPIC_COUNT_TOKENS = "anthropic.count_tokens"
    ANTHROPIC_OTHER = "anthropic.other"
    OPENAI_CHAT = "openai.chat_completions"
    OPENAI_COMPLETIONS = "openai.completions"
    OPENAI_RESPONSES = "openai.responses"
    OPENAI_MODELS = "openai.models"
    OPENAI_EMBEDDINGS = "openai.embeddings"
    OPENAI_OTHER = "openai.other"

    @property
    def dialect(self) -> Dialect:
        return _ENDPOINT_DIALECT[self]


_ENDPOINT_DIALECT: dict[Endpoint, Dialect] = {
    e: ("anthropic" if e.value.startswith("anthropic.") else "openai") for e in Endpoint
}


@dataclass(slots=True)
class UpstreamCall:
    """One request for a provider to send.

    `path` is relative to the dialect's API root, i.e. what follows `/v1` in the client's URL
    (`/messages`, `/chat/completions`, `/models`); each provider joins it to its own `base_url`.
    `headers` are already cleaned of hop-by-hop fields, `host` and `content-length`; the provider adds or
    replaces credentials according to its config. `body` is sent as these exact bytes.
    """

    endpoint: Endpoint
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    stream: bool
    model: str | None
    request_id: str
    extra: dict[str, str] = field(default_factory=dict)


class UpstreamResponse(Protocol):
    """An upstream answer whose head has arrived; the body is read with `read()` or `iter_chunks()`.

    `close()` releases the connection (or aborts it when the body was not read to the end); it is always
    called, also after a cancellation.
    """

    status: int
    headers: Headers

    @property
    def is_event_stream(self) -> bool: ...

    async def read(self) -> bytes: ...

    def iter_chunks(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class Provider(Protocol):
    """An upstream the router can send a call to."""

    name: str
    dialect: ProviderDialect

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        """Send `call`; return once the response head arrived.

        Raises `UpstreamUnreachable` or `UpstreamTimeout` (from `lunaroute.errors`) when no head arrives.
        A non-2xx status is *not* an error here: it is returned for the caller to pass through.
        """
        ...

    async def aclose(self) -> None:
        """Close pooled connections; called once at shutdown."""
        ...


Outcome = Literal["ok", "upstream_error", "client_disconnected", "upstream_timeout", "rejected", "interrupted"]
"""How an exchange ended, as recorded: `rejected` = refused by the gateway before any upstream call."""


class Attempt(msgspec.Struct, frozen=True, gc=False):
    """An upstream attempt that did not give the answer: its provider, the status it answered (None when it
    never answered) and why it was given up (`server_error`, `rate_limited`, `connect_error`, `circuit_open`...)."""

    provider: str
    status: int | None
    reason: str


class ExchangeRecord(msgspec.Struct, gc=False):
    """What the server observed of one request/response, handed to the recorder (a copy, off the hot path).

    Times: `started_at` is wall-clock UTC seconds (`time.time()`); the `*_ms` fields are milliseconds after the
    request arrived. Bodies are the bytes the *client* sent and received (after translation, in the client's
    dialect); a compressed non-stream body keeps its `content-encoding` in `response_headers`. Stream bodies are
    kept as the relayed chunks with their arrival offsets, capped (`response_truncated` then says so).
    Headers never include credentials (`authorization`, `x-api-key`, cookies are removed before recording).
    """

    request_id: str
    started_at: float
    listener: Dialect
    endpoint: Endpoint
    method: str
    path: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    model_requested: str | None
    is_streaming: bool
    client_ip: str | None = None
    key_id: str | None = None
    """The gateway key that made the request (`auth.mode: keys`), with its name and team; never the secret."""
    key_name: str | None = None
    team: str | None = None
    provider: str | None = None
    provider_dialect: ProviderDialect | None = None
    model_sent: str | None = None
    translated: bool = False
    route: str | None = None
    """Why the provider was chosen: header, marker, rule, default, bypass or fallback."""
    status: int | None = None
    response_headers: list[tuple[str, str]] = []
    response_body: bytes = b""
    stream_chunks: list[bytes] = []
    chunk_offsets_ms: list[float] = []
    response_truncated: bool = False
    upstream_sent_ms: float | None = None
    upstream_head_ms: float | None = None
    first_byte_ms: float | None = None
    finished_ms: float | None = None
    outcome: Outcome | None = None
    error: str | None = None
    client_request_id: str | None = None
    """The client's own `x-request-id`, when it sent a valid one; `request_id` is always the gateway's own, so two
    exchanges that share a client id stay two records."""
    attempts: list[Attempt] = []
    """The attempts given up before the one that answered (retries and fallbacks), in order."""
