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
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import aiohttp
from yarl import URL

from lunaroute.config import ProviderConfig
from lunaroute.errors import UpstreamTimeout, UpstreamUnreachable
from lunaroute.observability._collectors import PoolSnapshot
from lunaroute.providers._body import EditedEvents, edit_request_body, edit_response_body, session_id_of
from lunaroute.providers._capabilities import fit_to_capabilities
from lunaroute.providers._codex import CodexToken, codex_identity
from lunaroute.providers._headers import apply_credentials, render_template
from lunaroute.types import Endpoint, Headers, ProviderDialect, UpstreamCall

__all__ = ["HttpProvider", "HttpUpstreamResponse"]

_log = logging.getLogger("lunaroute.providers")
_WARN_EVERY_SECS = 10.0

_URL_CACHE_SIZE = 1024
_WIRES = frozenset({"openai", "openai_chat", "openai_responses", "anthropic"})
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_STREAM_TYPES = frozenset({"text/event-stream", "application/vnd.amazon.eventstream"})
"""Content types of streamed answers: SSE, and the AWS event stream of Bedrock's `converse-stream`."""


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
        return (self._response.content_type or "") in _STREAM_TYPES

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


class EditedResponse:
    """A non-streamed answer whose body is rewritten once read (`response_body`)."""

    __slots__ = ("_edit", "_inner", "headers", "status")

    def __init__(self, inner: HttpUpstreamResponse, edit: Callable[[bytes], bytes]) -> None:
        self._inner = inner
        self._edit = edit
        self.status = inner.status
        self.headers: Headers = [(k, v) for k, v in inner.headers if k != "content-length"]

    @property
    def is_event_stream(self) -> bool:
        return False

    async def read(self) -> bytes:
        return self._edit(await self._inner.read())

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def close(self) -> None:
        self._inner.close()


class EditedStream:
    """An event stream whose finishing chunk is rewritten on the way (`response_body`)."""

    __slots__ = ("_events", "_inner", "headers", "status")

    def __init__(self, inner: HttpUpstreamResponse, events: EditedEvents) -> None:
        self._inner = inner
        self._events = events
        self.status = inner.status
        self.headers: Headers = [(k, v) for k, v in inner.headers if k != "content-length"]

    @property
    def is_event_stream(self) -> bool:
        return True

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner.iter_chunks():
            out = self._events.feed(chunk)
            if out:
                yield out
        tail = self._events.finish()
        if tail:
            yield tail

    def close(self) -> None:
        self._inner.close()


class HttpProvider:
    """A `Provider` that forwards calls to `base_url` over a pooled keep-alive session."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        env: Mapping[str, str] | None = None,
        *,
        dialect: ProviderDialect | None = None,
    ) -> None:
        """`dialect` is given by the providers built on this one (Azure, Bedrock, Gemini, Vertex); else the
        `provider_type`."""
        if dialect is None and config.provider_type in _WIRES:
            dialect = "anthropic" if config.provider_type == "anthropic" else "openai"
        if config.base_url is None or dialect is None:
            raise ValueError("an HTTP provider needs a base_url and an openai or anthropic provider_type")
        self.name = name
        self.dialect: ProviderDialect = dialect
        self.wire: str = config.provider_type or dialect
        """The wire it speaks upstream: its `provider_type` (`openai` serves both OpenAI conversation APIs)."""
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
        self._opened = 0
        self._reused = 0
        codex = config.codex_auth
        self._codex = CodexToken(Path(codex.auth_file), codex.token_field) if codex and codex.enabled else None
        self._account_id = codex.account_id if codex and codex.enabled else None
        self._codex_version = codex.client_version if codex and codex.enabled else ""
        base = URL(config.base_url)
        self._where = f"{base.host}:{base.port}" if base.host else config.base_url
        self._warned_at = -_WARN_EVERY_SECS
        self._unlogged = 0

    def on_secret(self, callback: Callable[[str], None]) -> None:
        """Have `callback` learn every credential this provider reads at run time (its Codex tokens)."""
        if self._codex is not None:
            self._codex.on_new = callback

    def pool_snapshot(self) -> PoolSnapshot:
        """The pool's connections now (zero before the first request opens it)."""
        session = self._session
        active = idle = 0
        if session is not None and not session.closed:
            # aiohttp exposes no public pool counts; these two containers are the connector's own bookkeeping.
            connector = session.connector
            active = len(getattr(connector, "_acquired", ()))
            idle = sum(len(conns) for conns in getattr(connector, "_conns", {}).values())
        return PoolSnapshot(self.name, active, idle, self._opened, self._reused)

    def _trace(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()

        async def opened(*_: object) -> None:
            self._opened += 1

        async def reused(*_: object) -> None:
            self._reused += 1

        trace.on_connection_create_end.append(opened)
        trace.on_connection_reuseconn.append(reused)
        return trace

    def _open(self) -> aiohttp.ClientSession:
        client = self._config.http_client
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=client.pool_max_idle_per_host or 0,
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
            trace_configs=[self._trace()] if client.enable_pool_metrics else None,
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

    def credentials(self, call: UpstreamCall) -> list[tuple[str, str]]:
        """`call.headers` with the provider's credentials in place of the client's (when it has its own)."""
        api_key = self._codex.get() if self._codex is not None else self._config.api_key
        headers = apply_credentials(call.headers, api_key=api_key, style=self.dialect)
        if self._codex is not None:
            headers = codex_identity(headers, self._codex_version)
        if self._account_id is not None:
            headers = [(n, v) for n, v in headers if n != "chatgpt-account-id"]
            headers.append(("chatgpt-account-id", self._account_id))
        return headers

    async def sign(self, call: UpstreamCall, url: URL, headers: list[tuple[str, str]], body: bytes) -> None:
        """Add whatever authenticates the final request (its URL, headers and body); nothing by default."""

    async def request(self, method: str, url: URL, headers: Headers, body: bytes) -> HttpUpstreamResponse:
        """Send one request over the pool; return once the head arrived. The one place a provider touches the
        network: timeouts and client errors are mapped here (`UpstreamTimeout`, `UpstreamUnreachable`)."""
        session = self._session
        if session is None:
            session = self._session = self._open()
        request = session.request(method, url, data=body if body else None, headers=headers, allow_redirects=False)
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

    async def send(self, call: UpstreamCall) -> HttpUpstreamResponse | EditedResponse | EditedStream:
        config = self._config
        headers = self.credentials(call)
        variables = self.template_variables(call)
        headers += self.configured_headers(variables)
        body = call.body
        chat = call.endpoint is Endpoint.OPENAI_CHAT and self.dialect == "openai"
        if chat and config.request_body is not None and body:
            body = edit_request_body(body, config.request_body)
        if chat and config.capabilities is not None and body:
            body = fit_to_capabilities(body, config.capabilities, self.name)
        edit_answer = chat and config.response_body.enabled
        if edit_answer:
            # The answer is rewritten, so it must arrive uncompressed.
            headers = [(n, v) for n, v in headers if n != "accept-encoding"] + [("accept-encoding", "identity")]
        url = self.url_for(call)
        await self.sign(call, url, headers, body)
        upstream = await self.request(call.method, url, headers, body)
        encoded = any(k == "content-encoding" and v.strip().lower() != "identity" for k, v in upstream.headers)
        if edit_answer and 200 <= upstream.status < 300 and not encoded:  # compressed despite identity: as it is
            variables.setdefault("session_id", session_id_of(call.headers))
            edit, env = config.response_body, self._env

            def rewrite(raw: bytes) -> bytes:
                return edit_response_body(raw, edit, variables, env)

            if upstream.is_event_stream:
                return EditedStream(upstream, EditedEvents(rewrite))
            return EditedResponse(upstream, rewrite)
        return upstream

    def template_variables(self, call: UpstreamCall) -> dict[str, str]:
        """The values `request_headers` templates may use for `call`."""
        variables = {"provider": self.name, "model": call.model or "", **call.extra}
        variables["request_id"] = call.request_id
        return variables

    def configured_headers(self, variables: Mapping[str, str]) -> list[tuple[str, str]]:
        """The provider's `request_headers`, rendered."""
        return [
            (name.lower(), render_template(value, variables, self._env))
            for name, value in self._config.request_headers.items()
        ]

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
