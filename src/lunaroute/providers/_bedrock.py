"""The AWS Bedrock provider: Converse calls on `HttpProvider`'s pool, URL from the model, SigV4-signed."""

from __future__ import annotations

from collections.abc import Mapping

from botocore.utils import percent_encode
from yarl import URL

from lunaroute.config import ProviderConfig
from lunaroute.errors import InvalidRequest
from lunaroute.providers._aws import AwsSigner
from lunaroute.providers._http import HttpProvider
from lunaroute.types import UpstreamCall

__all__ = ["BedrockProvider"]

_DROPPED = frozenset({"authorization", "x-api-key", "content-type", "accept", "host"})


class BedrockProvider(HttpProvider):
    """Sends translated calls to `{base_url}/model/{modelId}/converse` (or `/converse-stream`).

    The client's credentials never go to AWS: every request is signed with the provider's own (`AwsSigner`).
    The model id is the provider's `model` or the client's model name, percent-encoded as the AWS SDKs do
    (inference-profile ids and ARNs included).
    """

    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str] | None = None) -> None:
        super().__init__(name, config, env, dialect="bedrock")
        if config.region is None:
            raise ValueError("a bedrock provider needs a region")
        self._signer = AwsSigner(
            region=config.region,
            access_key_id=config.aws_access_key_id,
            secret_access_key=config.aws_secret_access_key,
            session_token=config.aws_session_token,
            profile=config.aws_profile,
        )

    def url_for(self, call: UpstreamCall) -> URL:
        if not call.model:
            raise InvalidRequest("a model is required to call Bedrock", param="model")
        operation = "converse-stream" if call.stream else "converse"
        return URL(f"{self._base}/model/{percent_encode(call.model)}/{operation}", encoded=True)

    def credentials(self, call: UpstreamCall) -> list[tuple[str, str]]:
        headers = [(n, v) for n, v in call.headers if n not in _DROPPED and not n.startswith("x-amz-")]
        accept = "application/vnd.amazon.eventstream" if call.stream else "application/json"
        return [*headers, ("content-type", "application/json"), ("accept", accept)]

    async def sign(self, call: UpstreamCall, url: URL, headers: list[tuple[str, str]], body: bytes) -> None:
        headers += await self._signer.sign(call.method, url, body, "application/json")
