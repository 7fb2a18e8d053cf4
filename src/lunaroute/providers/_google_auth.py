"""OAuth access tokens for Google Cloud (Vertex AI), through `google-auth`, refreshed before they expire."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Final, Protocol

__all__ = ["REFRESH_MARGIN_SECS", "GoogleToken", "TokenUnavailable"]

SCOPES: Final = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_MARGIN_SECS: Final = 300.0
"""A token is renewed once it has less than this left, so no request goes out with a token about to lapse."""


class TokenUnavailable(Exception):
    """No access token could be had: unreadable or malformed credentials, or the token endpoint refused."""


class _Credentials(Protocol):
    token: str | None
    expiry: datetime.datetime | None

    def refresh(self, request: object) -> None: ...


def _load(credentials_file: str | None) -> _Credentials:
    """The service account of `credentials_file`, else the default credentials (env, gcloud, metadata server)."""
    import google.auth
    from google.oauth2 import service_account

    if credentials_file is not None:
        loaded: _Credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            credentials_file, scopes=list(SCOPES)
        )
        return loaded
    default, _project = google.auth.default(scopes=list(SCOPES))
    return default


def _refresh(credentials: _Credentials) -> None:
    import google.auth.transport.requests

    credentials.refresh(google.auth.transport.requests.Request())


class GoogleToken:
    """A bearer token for one set of credentials.

    `get()` returns the current token, refreshing it first (in a worker thread: `google-auth` is blocking)
    when there is none or it expires within `REFRESH_MARGIN_SECS`. Concurrent callers share one refresh. When no
    token can be had, `TokenUnavailable` says why (the next call tries again).
    """

    def __init__(
        self,
        credentials_file: str | None,
        *,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self._file = credentials_file
        self._credentials: _Credentials | None = None
        self._lock = asyncio.Lock()
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC).replace(tzinfo=None))
        self.refreshes = 0
        """How many times a token was fetched (for tests and diagnostics)."""

    def _fresh(self) -> str | None:
        credentials = self._credentials
        if credentials is None or not credentials.token:
            return None
        expiry = credentials.expiry  # google-auth keeps it as naive UTC
        if expiry is not None and (expiry - self._clock()).total_seconds() < REFRESH_MARGIN_SECS:
            return None
        return credentials.token

    async def get(self) -> str:
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is not None:
                return token
            from google.auth.exceptions import GoogleAuthError

            try:
                if self._credentials is None:
                    self._credentials = await asyncio.to_thread(_load, self._file)
                await asyncio.to_thread(_refresh, self._credentials)
            except (GoogleAuthError, OSError, ValueError) as exc:
                raise TokenUnavailable(str(exc) or type(exc).__name__) from exc
            self.refreshes += 1
            if not self._credentials.token:
                raise TokenUnavailable("the Google credentials gave no access token")
            return self._credentials.token
