"""The Azure OpenAI provider: the OpenAI dialect on `HttpProvider`'s pool, with Azure's paths and credentials."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode

from yarl import URL

from lunaroute.config import ProviderConfig
from lunaroute.dialects.passthrough import rewrite_model
from lunaroute.errors import InvalidRequest
from lunaroute.providers._http import EditedResponse, EditedStream, HttpProvider, HttpUpstreamResponse
from lunaroute.types import UpstreamCall

__all__ = ["AzureProvider"]

_CLIENT_AUTH = frozenset({"authorization", "x-api-key", "api-key"})
_DEPLOYMENT_PATHS = (
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/audio/",
    "/images/generations",
)


class AzureProvider(HttpProvider):
    """Serves OpenAI-dialect calls (passthrough for OpenAI clients, translated for Anthropic ones) from an Azure
    OpenAI resource.

    With a dated `api_version`, `/chat/completions`, `/completions`, `/embeddings`, `/audio/...` and
    `/images/generations` go to `{base_url}/openai/deployments/{deployment}{path}?api-version=...` (the deployment
    is `deployments[model]`, else the model name itself), other paths to `{base_url}/openai{path}?api-version=...`.
    With `api_version: v1`, every path goes to `{base_url}/openai/v1{path}` and the body's `model` becomes the
    deployment name. Credentials: `api_key` as `api-key`, or `azure_ad_token` as `Authorization: Bearer`; with
    neither, the client's own credential is forwarded.
    """

    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str] | None = None) -> None:
        super().__init__(name, config, env, dialect="openai")
        if config.api_version is None:
            raise ValueError("an azure provider needs an api_version")
        self._api_version = config.api_version
        self._deployments = dict(config.deployments)
        self._api_key = config.api_key
        self._token = config.azure_ad_token

    def deployment(self, model: str | None) -> str | None:
        """The deployment serving `model` (the model name itself when the map has no entry)."""
        return self._deployments.get(model, model) if model is not None else None

    def url_for(self, call: UpstreamCall) -> URL:
        if self._api_version == "v1":
            text = f"{self._base}/openai/v1{call.path}"
            return URL(f"{text}?{call.query}" if call.query else text, encoded=True)
        query = urlencode(
            [*((k, v) for k, v in parse_qsl(call.query) if k != "api-version"), ("api-version", self._api_version)]
        )
        if call.path.startswith(_DEPLOYMENT_PATHS):
            deployment = self.deployment(call.model)
            if deployment is None:
                raise InvalidRequest("a model is required: it names the Azure deployment", param="model")
            return URL(f"{self._base}/openai/deployments/{quote(deployment, safe='')}{call.path}?{query}", encoded=True)
        return URL(f"{self._base}/openai{call.path}?{query}", encoded=True)

    def credentials(self, call: UpstreamCall) -> list[tuple[str, str]]:
        if self._api_key is None and self._token is None:
            return list(call.headers)
        headers = [(n, v) for n, v in call.headers if n not in _CLIENT_AUTH]
        if self._api_key is not None:
            headers.append(("api-key", self._api_key))
        else:
            headers.append(("authorization", f"Bearer {self._token}"))
        return headers

    async def send(self, call: UpstreamCall) -> HttpUpstreamResponse | EditedResponse | EditedStream:
        if self._api_version == "v1" and call.body and call.model is not None:
            deployment = self.deployment(call.model)
            if deployment is not None and deployment != call.model:
                call = dataclasses.replace(call, body=rewrite_model(call.body, deployment))
        return await super().send(call)
