"""AWS credentials and SigV4 request signing for Bedrock, with botocore."""

from __future__ import annotations

import asyncio
import hashlib
import time
from urllib.parse import quote

import botocore.session
from botocore.auth import SigV4Auth
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.utils import normalize_url_path
from yarl import URL

from lunaroute.errors import UpstreamUnreachable

__all__ = ["AwsSigner"]


class _Signing:
    """What botocore's SigV4 signer reads from a request besides the canonical request: the signing time."""

    __slots__ = ("context",)

    def __init__(self, timestamp: str) -> None:
        self.context = {"timestamp": timestamp}


class AwsSigner:
    """Signs requests for one service and region with static keys or the standard AWS credential chain.

    The chain (environment, shared config/credentials files with `profile`, web identity, container and
    instance metadata) is resolved once, on the first request, off the event loop; credentials that expire
    (assumed roles, SSO, instance metadata) are refreshed off the loop too, before they expire.

    The signed headers are `content-type`, `host`, `x-amz-date` and, with temporary credentials,
    `x-amz-security-token`. The canonical request is built here from those few headers (botocore's own request
    object parses headers through the `email` package, which cost more than the rest of a request's handling);
    the path is canonicalized, the string to sign derived and the signature computed by botocore's `SigV4Auth`.
    """

    def __init__(
        self,
        *,
        region: str,
        service: str = "bedrock",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.region = region
        self.service = service
        self._profile = profile
        self._credentials: Credentials | None = None
        if access_key_id is not None and secret_access_key is not None:
            self._credentials = Credentials(access_key_id, secret_access_key, session_token)
        self._lock = asyncio.Lock()
        self._signer: tuple[ReadOnlyCredentials, SigV4Auth] | None = None

    async def _resolve(self) -> Credentials:
        async with self._lock:
            if self._credentials is None:
                found = await asyncio.to_thread(self._from_chain)
                if found is None:
                    raise UpstreamUnreachable(
                        "no AWS credentials: set aws_access_key_id/aws_secret_access_key on the provider, or "
                        "configure the standard AWS chain (environment, profile, web identity, instance role)"
                    )
                self._credentials = found
            return self._credentials

    def _from_chain(self) -> Credentials | None:
        session = botocore.session.Session(profile=self._profile)
        credentials: Credentials | None = session.get_credentials()
        return credentials

    async def frozen(self) -> ReadOnlyCredentials:
        """Current credentials; a refresh (a network call for temporary ones) runs in a worker thread."""
        credentials = self._credentials or await self._resolve()
        refresh_needed = getattr(credentials, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            frozen: ReadOnlyCredentials = await asyncio.to_thread(credentials.get_frozen_credentials)
            return frozen
        frozen = credentials.get_frozen_credentials()
        return frozen

    def _signer_for(self, frozen: ReadOnlyCredentials) -> SigV4Auth:
        cached = self._signer
        if cached is None or cached[0] != frozen:
            cached = self._signer = (frozen, SigV4Auth(frozen, self.service, self.region))
        return cached[1]

    async def sign(self, method: str, url: URL, body: bytes, content_type: str) -> list[tuple[str, str]]:
        """The headers that sign this request: `authorization`, `x-amz-date`, and `x-amz-security-token` with
        temporary credentials (`content-type` must be sent as given, `host` as aiohttp derives it from `url`)."""
        frozen = await self.frozen()
        signer = self._signer_for(frozen)
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        host = url.raw_host or ""
        if ":" in host:
            host = f"[{host}]"
        if url.explicit_port is not None and not url.is_default_port():
            host = f"{host}:{url.explicit_port}"
        signed = {"content-type": content_type, "host": host, "x-amz-date": timestamp}
        if frozen.token:
            signed["x-amz-security-token"] = frozen.token
        names = sorted(signed)
        query = "&".join(
            sorted(f"{k}={v}" for k, _, v in (p.partition("=") for p in url.raw_query_string.split("&") if p))
        )
        canonical = "\n".join(
            [
                method.upper(),
                quote(normalize_url_path(url.raw_path), safe="/~"),
                query,
                "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names),
                ";".join(names),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        signing = _Signing(timestamp)
        signature = signer.signature(signer.string_to_sign(signing, canonical), signing)
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(signing)}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}"
        )
        out = [("authorization", authorization), ("x-amz-date", timestamp)]
        if frozen.token:
            out.append(("x-amz-security-token", frozen.token))
        return out
