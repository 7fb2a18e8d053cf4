"""AWS credentials and SigV4 request signing for Bedrock, with botocore."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from lunaroute.errors import UpstreamUnreachable

__all__ = ["AwsSigner"]

_SIGNED = ("authorization", "x-amz-date", "x-amz-security-token")


class AwsSigner:
    """Signs requests for one service and region with static keys or the standard AWS credential chain.

    The chain (environment, shared config/credentials files with `profile`, web identity, container and
    instance metadata) is resolved once, on the first request, off the event loop; credentials that expire
    (assumed roles, SSO, instance metadata) are refreshed off the loop too, before they expire.
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

    async def sign(
        self, method: str, url: str, body: bytes, headers: Iterable[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """The SigV4 headers (`authorization`, `x-amz-date`, maybe `x-amz-security-token`) for a request whose
        signed headers are `host` and `headers` (names lower-case, values as sent)."""
        frozen = await self.frozen()
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, self.service, self.region).add_auth(request)
        return [(name, request.headers[name]) for name in _SIGNED if name in request.headers]
