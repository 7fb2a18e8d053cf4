"""The built-in `mock` provider: deterministic answers in the calling endpoint's own dialect, no network."""

from __future__ import annotations

import asyncio

from lunaroute.config._schema import MockConfig
from lunaroute.types import Headers, ProviderDialect, UpstreamCall

from ._answer import Answer
from ._render import Rendered, render_endpoint, render_error
from ._request import BadRequestBody, RequestFacts, read_request
from ._response import MockResponse

__all__ = ["MockProvider"]

_CACHE_SIZE = 256
_JSON_HEADERS: Headers = (("content-type", "application/json"),)
_STREAM_HEADERS: Headers = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))


class MockProvider:
    """Answers every call with `settings.response_text`, shaped for `call.endpoint`.

    Messages, chat, responses and completions stream when `call.stream`; the model is echoed from the body;
    usage is input ≈ body bytes / 4, output = words; `GET /models` lists the provider's name. A body that is
    not a JSON object of the right field types gets a 400 error body in the endpoint's dialect, an endpoint
    without a canned answer a 404. `latency_ms` delays `send()` (the response head); `chunk_delay_ms` paces
    the chunks; `stream_chunks` is the number of text deltas. Rendered bytes are cached per request facts
    (endpoint, model, stream, include_usage, input size), so a repeated call costs a body parse and a lookup.
    """

    dialect: ProviderDialect = "any"

    def __init__(self, name: str, settings: MockConfig) -> None:
        self.name = name
        self._answer = Answer(text=settings.response_text)
        self._pieces = max(1, settings.stream_chunks)
        self._latency = max(0.0, settings.latency_ms) / 1000
        self._chunk_delay = max(0.0, settings.chunk_delay_ms) / 1000
        self._cache: dict[RequestFacts, Rendered] = {}

    async def send(self, call: UpstreamCall) -> MockResponse:
        """Render the answer for `call` (after `latency_ms`)."""
        if self._latency:
            await asyncio.sleep(self._latency)
        try:
            facts = read_request(call.endpoint, call.body, call.stream)
        except BadRequestBody as exc:
            rendered = render_error(call.endpoint.dialect, 400, str(exc))
        else:
            rendered = self._render(facts)
        headers = _STREAM_HEADERS if rendered.stream else _JSON_HEADERS
        return MockResponse(rendered.status, headers, rendered.chunks, self._chunk_delay)

    def _render(self, facts: RequestFacts) -> Rendered:
        cached = self._cache.get(facts)
        if cached is not None:
            return cached
        rendered = render_endpoint(facts, self._answer, pieces=self._pieces, model_ids=(self.name,))
        if len(self._cache) >= _CACHE_SIZE:
            # Oldest entry first (dicts keep insertion order); the working set of a benchmark is tiny.
            del self._cache[next(iter(self._cache))]
        self._cache[facts] = rendered
        return rendered

    async def aclose(self) -> None:
        """Nothing to release; present for the `Provider` protocol."""
        self._cache.clear()
