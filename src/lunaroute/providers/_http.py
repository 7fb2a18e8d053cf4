"""The HTTP provider: one pooled aiohttp session per upstream, bytes in and bytes out, no retries.

All network I/O toward providers happens in this module; lower-level client errors are mapped here, once, to
`UpstreamUnreachable` / `UpstreamTimeout`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Mapping

import aiohttp
from yarl import URL

from lunaroute.config import ProviderConfig
from lunaroute.errors import UpstreamTimeout, UpstreamUnreachable
from lunaroute.providers._headers import apply_credentials, render_template
from lunaroute.types import Headers, ProviderDialect, UpstreamCall

__all__ = ["HttpProvider", "HttpUpstreamResponse"]

_log = logging.getLogger("lunaroute.providers")
_WARN_EVERY_SECS = 10.0

_URL_CACHE_SIZE = 1024
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})


def _cause(exc: BaseException) -> str:
    """Why a connection failed, in words: refused, DNS, TLS, reset, closed early, timeout."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "DNS lookup failed"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate rejected ({exc.certificate_error})"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(os_error, socket.gaierror):
            return "DNS lookup failed"
        return f"cannot connect ({os_error.strerror or os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the upstream closed the connection before answering"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def map_client_error(exc: BaseException, provider: str = "", where: str = "") -> Exception:
    """The gateway error for an aiohttp/OS error raised while talking to `provider` at `where` (host:port)."""
    who = f"provider {provider!r}" if provider else "the upstream"
    at = f" at {where}" if where else ""
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        kind = "connecting" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "answering"
        return UpstreamTimeout(f"{who}{at} timed out ({kind})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnreachable(f"{who}{at} could not be reached: {_cause(exc)}")
    return UpstreamUnreachable(f"{who}{at}: the connection failed: {_cause(exc)}")


class HttpUpstreamResponse:
    """An `UpstreamResponse` over an aiohttp client response."""

    __slots__ = ("_idle", "_provider", "_response", "_where", "headers", "status")

    def __init__(
        self, response: aiohttp.ClientResponse, idle_timeout: float | None = None, provider: str = "", where: str = ""
    ) -> None:
        self._response = response
        self._idle = idle_timeout
        self._provider = provider
        self._where = where
        self.status = response.status
        self.headers: Headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.raw_headers]

    @property
    def is_event_stream(self) -> bool:
        return (self._response.content_type or "") == "text/event-stream"

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise map_client_error(exc, self._provider, self._where) from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        idle = self._idle
        try:
            while True:
                if idle is None:
                    chunk = await content.readany()
                else:
                    async with asyncio.timeout(idle):
                        chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise map_client_error(exc, self._provider, self._where) from exc

    def close(self) -> None:
        self._response.close()


class HttpProvider:
    """A `Provider` that forwards calls to `base_url` over a pooled keep-alive session."""

    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str] | None = None) -> None:
        if config.base_url is None or config.provider_type not in ("openai", "anthropic"):
            raise ValueError("an HTTP provider needs a base_url and an openai or anthropic provider_type")
        self.name = name
        self.dialect: ProviderDialect = config.provider_type
        self._config = config
        self._base = config.base_url
        # Anthropic's base URL is the host root; OpenAI's already ends in its API root (`/v1`).
        self._prefix = "/v1" if config.provider_type == "anthropic" else ""
        self._env = env
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[tuple[str, str], URL] = {}
        client = config.http_client
        self._split_timeouts = client.first_byte_timeout_secs is not None or client.idle_timeout_secs is not None
        self._first_byte = client.first_byte_timeout_secs or client.timeout_secs
        self._idle = client.idle_timeout_secs or client.timeout_secs
        base = URL(config.base_url)
        self._where = f"{base.host}:{base.port}" if base.host else config.base_url
        self._warned_at = -_WARN_EVERY_SECS
        self._unlogged = 0

    def _open(self) -> aiohttp.ClientSession:
        client = self._config.http_client
        connector = aiohttp.TCPConnector(
            limit=0,
            keepalive_timeout=client.pool_idle_timeout_secs,
            ttl_dns_cache=300,
            socket_factory=_socket_factory(client.tcp_keepalive_secs),
        )
        # Fast path: one socket read timeout covers the first byte and the gaps between chunks. When they are
        # configured apart, each is enforced with its own timer instead (see `send` and `iter_chunks`).
        sock_read = None if self._split_timeouts else client.timeout_secs
        timeout = aiohttp.ClientTimeout(total=None, connect=client.connect_timeout_secs, sock_read=sock_read)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO,
            raise_for_status=False,
        )

    def url_for(self, call: UpstreamCall) -> URL:
        """The upstream URL; path and query are already percent-encoded (they are the client's raw ones)."""
        key = (call.path, call.query)
        url = self._urls.get(key)
        if url is None:
            text = f"{self._base}{self._prefix}{call.path}"
            url = URL(f"{text}?{call.query}" if call.query else text, encoded=True)
            if len(self._urls) < _URL_CACHE_SIZE:
                self._urls[key] = url
        return url

    async def send(self, call: UpstreamCall) -> HttpUpstreamResponse:
        session = self._session
        if session is None:
            session = self._session = self._open()
        headers = apply_credentials(call.headers, api_key=self._config.api_key, style=self.dialect)
        if self._config.request_headers:
            variables = {"provider": self.name, "model": call.model or "", **call.extra}
            variables["request_id"] = call.request_id
            headers += [
                (name.lower(), render_template(value, variables, self._env))
                for name, value in self._config.request_headers.items()
            ]
        request = session.request(
            call.method,
            self.url_for(call),
            data=call.body if call.body else None,
            headers=headers,
            allow_redirects=False,
        )
        try:
            if self._split_timeouts:
                async with asyncio.timeout(self._first_byte):
                    response = await request
            else:
                response = await request
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = map_client_error(exc, self.name, self._where)
            self._warn(error)
            raise error from exc
        return HttpUpstreamResponse(response, self._idle if self._split_timeouts else None, self.name, self._where)

    def _warn(self, error: Exception) -> None:
        """Log a failed connection as a warning: at most one line per `_WARN_EVERY_SECS` per provider, saying how
        many were not logged since (a dead upstream under load must not flood the log)."""
        now = time.monotonic()
        if now - self._warned_at < _WARN_EVERY_SECS:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last warning)" if self._unlogged else ""
        _log.warning("%s%s", error, more, extra={"provider": self.name, "base_url": self._base})
        self._warned_at, self._unlogged = now, 0

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _socket_factory(keepalive_secs: int | None) -> aiohttp.SocketFactoryType:
    def factory(addr_info: aiohttp.AddrInfoType) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        sock = socket.socket(family=family, type=type_, proto=proto)
        if keepalive_secs:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if hasattr(socket, "TCP_KEEPIDLE"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive_secs)
        return sock

    return factory
