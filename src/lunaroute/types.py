"""The small interfaces that join the packages: endpoints, upstream calls and responses, and the Protocols.

Every value that crosses a package boundary is one of the types here (or a `lunaroute.model` struct); no
package hands another a plain dict.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "Dialect",
    "Endpoint",
    "Headers",
    "Provider",
    "ProviderDialect",
    "UpstreamCall",
    "UpstreamResponse",
]

Dialect = Literal["openai", "anthropic"]
"""The API dialect a client speaks on a given request (the "listener" in recordings)."""

ProviderDialect = Literal["openai", "anthropic", "any"]
"""The dialect a provider speaks upstream; `any` answers each client in its own dialect (the mock)."""

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
        return "anthropic" if self.value.startswith("anthropic.") else "openai"


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
