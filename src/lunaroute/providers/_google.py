"""The Google providers: the Gemini API (API key) and Vertex AI (OAuth tokens; Gemini and Claude models).

Both reuse `HttpProvider`'s pool, timeouts, error mapping and pool metrics; they differ from it only in the URL
(the model and the method are in the path, not the body) and in the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import msgspec
from yarl import URL

from lunaroute.config import ProviderConfig
from lunaroute.dialects.passthrough import top_level
from lunaroute.errors import InvalidRequest, UpstreamUnreachable
from lunaroute.providers._google_auth import GoogleToken, TokenUnavailable
from lunaroute.providers._http import HttpProvider, HttpUpstreamResponse
from lunaroute.types import Endpoint, UpstreamCall

__all__ = ["GeminiProvider", "VertexProvider"]

_CLIENT_AUTH: Final = frozenset({"authorization", "x-api-key", "x-goog-api-key"})
VERTEX_ANTHROPIC_VERSION: Final = "vertex-2023-10-16"
"""The `anthropic_version` Vertex AI's Claude models take in the body (instead of a header)."""


def _credential(headers: list[tuple[str, str]]) -> str | None:
    """The client's own key (`x-goog-api-key`, `x-api-key` or a bearer token), for a provider without one."""
    for name, value in headers:
        if name in ("x-goog-api-key", "x-api-key"):
            return value
        if name == "authorization" and value[:7].lower() == "bearer ":
            return value[7:]
    return None


def _model_of(call: UpstreamCall) -> str:
    if not call.model:
        raise InvalidRequest("a model is required: Google providers take it in the URL")
    return quote(call.model, safe="@.-_")


def _gemini_method(call: UpstreamCall) -> tuple[str, str]:
    """The `:method` and the query for `call` on a Gemini model."""
    if call.endpoint is Endpoint.ANTHROPIC_COUNT_TOKENS:
        return "countTokens", ""
    return ("streamGenerateContent", "alt=sse") if call.stream else ("generateContent", "")


class GeminiProvider(HttpProvider):
    """`provider_type: gemini`: `POST {base_url}/v1beta/models/{model}:generateContent` (or
    `:streamGenerateContent?alt=sse`, `:countTokens`), the key in `x-goog-api-key`.

    The key is the provider's `api_key`, else the client's own (sent as `x-goog-api-key`, `x-api-key` or a
    bearer token), so a zero-config gateway forwards the caller's Gemini key.
    """

    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str] | None = None) -> None:
        super().__init__(name, config, env, dialect="gemini")
        self._key = config.api_key
        self._root = f"{config.base_url}/v1beta/models/"

    async def send(self, call: UpstreamCall) -> HttpUpstreamResponse:
        method, query = _gemini_method(call)
        text = f"{self._root}{_model_of(call)}:{method}"
        url = URL(f"{text}?{query}" if query else text, encoded=True)
        key = self._key or _credential(call.headers)
        headers = [(n, v) for n, v in call.headers if n not in _CLIENT_AUTH]
        if key:
            headers.append(("x-goog-api-key", key))
        headers += self.configured_headers(self.template_variables(call))
        return await self.request("POST", url, headers, call.body)


class VertexProvider(HttpProvider):
    """`provider_type: vertex`: models on Vertex AI at
    `{base_url}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`.

    `publisher: google` serves Gemini models through the Gemini wire (`generateContent`,
    `streamGenerateContent?alt=sse`, `countTokens`). `publisher: anthropic` serves Claude models through the
    Anthropic Messages wire (`rawPredict`, `streamRawPredict`; `count-tokens:rawPredict` for token counts): the
    body loses `model` (it is in the URL) and gains `anthropic_version: vertex-2023-10-16`, and Anthropic
    clients are passed through. Every request carries an OAuth access token of the service account in
    `credentials_file`, or of the default credentials, renewed before it expires; a token that cannot be had
    is an `UpstreamUnreachable` (so fallbacks apply).
    """

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        env: Mapping[str, str] | None = None,
        *,
        token: GoogleToken | None = None,
    ) -> None:
        publisher = config.publisher or "google"
        super().__init__(name, config, env, dialect="anthropic" if publisher == "anthropic" else "gemini")
        self._publisher = publisher
        location = config.location or "global"
        self._root = (
            f"{config.base_url}/v1/projects/{config.project}/locations/{location}/publishers/{self._publisher}/models/"
        )
        self._token = token or GoogleToken(config.credentials_file)

    def _target(self, call: UpstreamCall) -> tuple[URL, bytes]:
        if self._publisher == "google":
            method, query = _gemini_method(call)
            text = f"{self._root}{_model_of(call)}:{method}"
            return URL(f"{text}?{query}" if query else text, encoded=True), call.body
        if call.endpoint is Endpoint.ANTHROPIC_COUNT_TOKENS:
            # Claude's token counter is a model of its own; the counted model stays in the body.
            url = URL(f"{self._root}count-tokens:rawPredict", encoded=True)
            return url, self._anthropic_body(call, keep_model=True)
        if call.endpoint is not Endpoint.ANTHROPIC_MESSAGES:
            raise InvalidRequest(f"{call.endpoint.value} requests are not served by Vertex AI's Claude models")
        method = "streamRawPredict" if call.stream else "rawPredict"
        return URL(f"{self._root}{_model_of(call)}:{method}", encoded=True), self._anthropic_body(call)

    @staticmethod
    def _anthropic_body(call: UpstreamCall, *, keep_model: bool = False) -> bytes:
        top = top_level(call.body)
        if not keep_model:
            top.pop("model", None)
        elif call.model:
            top["model"] = msgspec.Raw(msgspec.json.encode(call.model))
        top["anthropic_version"] = msgspec.Raw(msgspec.json.encode(VERTEX_ANTHROPIC_VERSION))
        return msgspec.json.encode(top)

    async def send(self, call: UpstreamCall) -> HttpUpstreamResponse:
        url, body = self._target(call)
        try:
            token = await self._token.get()
        except TokenUnavailable as exc:
            raise UpstreamUnreachable(f"provider {self.name!r} could not get a Google access token: {exc}") from exc
        drop = _CLIENT_AUTH | {"anthropic-version"}
        headers = [(n, v) for n, v in call.headers if n not in drop]
        headers.append(("authorization", f"Bearer {token}"))
        headers += self.configured_headers(self.template_variables(call))
        return await self.request("POST", url, headers, body)
