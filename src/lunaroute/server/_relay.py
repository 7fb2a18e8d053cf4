"""Relay an upstream answer to the client: whole bodies, streamed bodies, and SSE with keepalive comments.

Stream bytes go out as they arrive, never buffered to the end. Keepalive comments are written only at an event
boundary, so they can never split an event. A compressed event stream (an upstream that ignored
`accept-encoding: identity`) is decoded here so the client always gets readable events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Callable

from aiohttp import web
from multidict import CIMultiDict

from lunaroute._aio import cancel_and_wait
from lunaroute.dialects.errors import stream_error_event
from lunaroute.errors import UpstreamError, UpstreamTimeout
from lunaroute.observability import Metrics
from lunaroute.policies import UsageMeter
from lunaroute.providers._headers import forward_response_headers
from lunaroute.recording._tap import RecordingTap
from lunaroute.scrub import Scrubber
from lunaroute.types import Dialect, Outcome, UpstreamResponse

__all__ = ["RelayOutcome", "ResponseTooLarge", "outcome_of", "relay_body", "relay_stream", "wants_streamed_relay"]

KEEPALIVE = b": keepalive\n\n"
_BUFFER_LIMIT = 1 << 20


class RelayOutcome:
    """How a relay ended: `complete`, `client_disconnected` or `upstream_error`."""

    COMPLETE = "complete"
    CLIENT_DISCONNECTED = "client_disconnected"
    UPSTREAM_ERROR = "upstream_error"


class ResponseTooLarge(UpstreamError):
    """A streamed answer would pass `http_server.max_response_bytes`: it is cut there."""

    code = "response_too_large"


def failure_kind(exc: UpstreamError) -> str:
    """The breaker's name for a failure that broke a stream off."""
    if isinstance(exc, ResponseTooLarge):
        return "response_too_large"
    return "timeout" if isinstance(exc, UpstreamTimeout) else "mid_stream"


def _decoder_for(encoding: str | None) -> Callable[[bytes], bytes] | None:
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress
    return None


def _content_encoding(upstream: UpstreamResponse) -> str | None:
    for name, value in upstream.headers:
        if name == "content-encoding":
            return value.strip().lower()
    return None


def _client_headers(upstream: UpstreamResponse, extra: dict[str, str], drop: tuple[str, ...] = ()) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(forward_response_headers(upstream.headers, drop=drop))
    headers.update(extra)
    return headers


def _scrubbed(upstream: UpstreamResponse, body: bytes, scrub: Scrubber) -> tuple[bytes, tuple[str, ...]]:
    """`body` with secrets masked, and the headers to drop: `content-encoding` when the body had to be decoded
    to be read (an encoding this relay cannot decode is left as it is)."""
    encoding = _content_encoding(upstream)
    decode = _decoder_for(encoding)
    if decode is None:
        return scrub.data(body), ()
    errors: tuple[type[Exception], ...] = (zlib.error,)
    if encoding == "zstd":
        import zstandard

        errors = (zlib.error, zstandard.ZstdError)
    try:
        plain = decode(body)
    except errors:  # a corrupt compressed body: nothing readable to mask, relay it as it came
        return body, ()
    return scrub.data(plain), ("content-encoding",)


def wants_streamed_relay(upstream: UpstreamResponse, bypass: bool) -> bool:
    """Event streams always stream; so does a bypass body without a small known length."""
    if upstream.is_event_stream:
        return True
    if not bypass:
        return False
    length = next((v for k, v in upstream.headers if k == "content-length"), None)
    return length is None or not length.isdigit() or int(length) > _BUFFER_LIMIT


def outcome_of(status: int) -> Outcome:
    return "ok" if status < 400 else "upstream_error"


async def relay_body(
    upstream: UpstreamResponse,
    extra: dict[str, str],
    tap: RecordingTap | None,
    deadline: float | None = None,
    *,
    pre_ms: float = 0.0,
    meter: UsageMeter | None = None,
    scrub: Scrubber | None = None,
) -> web.Response:
    """Read the whole upstream body (by `deadline`, event-loop time) and answer with it unchanged — except that an
    error body (status >= 400) has the secrets `scrub` knows masked (decompressed first when it was compressed).

    The exchange is handed to the recorder (`tap.finish`) before the response is returned to the client.
    `x-lunaroute-overhead-ms` tells the client the gateway's own time: `pre_ms` (arrival to upstream send)
    plus what followed the upstream's last byte.
    """
    try:
        async with asyncio.timeout_at(deadline):
            body = await upstream.read()
    except TimeoutError:
        raise UpstreamTimeout("the request's total deadline passed during the response") from None
    read_done = time.perf_counter()
    if meter is not None:
        meter.body(body)
    drop: tuple[str, ...] = ()
    if scrub and upstream.status >= 400:
        body, drop = _scrubbed(upstream, body, scrub)
    if tap is not None:
        tap.head(upstream.status, [(n, v) for n, v in upstream.headers if n not in drop] if drop else upstream.headers)
        tap.body(body)
        tap.finish(upstream.status, outcome_of(upstream.status))
    headers = _client_headers(upstream, extra, drop)
    headers["x-lunaroute-overhead-ms"] = f"{pre_ms + (time.perf_counter() - read_done) * 1000:.3f}"
    return web.Response(status=upstream.status, body=body, headers=headers)


async def relay_stream(
    request: web.Request,
    upstream: UpstreamResponse,
    *,
    dialect: Dialect,
    extra: dict[str, str],
    keepalive_secs: float | None,
    metrics: Metrics,
    labels: tuple[str, str],
    tap: RecordingTap | None,
    deadline: float | None = None,
    started: float = 0.0,
    meter: UsageMeter | None = None,
    scrub: Scrubber | None = None,
    max_bytes: int | None = None,
) -> tuple[web.StreamResponse, str, str | None]:
    """Relay the upstream body chunk by chunk. Returns the response, its `RelayOutcome` and, when the upstream
    broke the stream off, the kind of that failure (`failure_kind`) for the provider's breaker.

    `deadline` (event-loop time) ends the relay with an upstream-timeout error event; `max_bytes` cuts it before
    the chunk that would pass it, with an error event (`ResponseTooLarge`). The chunks of an error
    response (status >= 400) have the secrets `scrub` knows masked, chunk by chunk.
    Each chunk goes to the client first and to `tap` (the recorder's copy) second; the exchange is handed to the
    recorder before the final chunk of the HTTP response (`write_eof`), so a client that saw the end of its
    response has its session journaled.
    """
    encoding = _content_encoding(upstream)
    decode = _decoder_for(encoding) if upstream.is_event_stream else None
    mask = scrub.data if scrub and upstream.status >= 400 else None
    drop = ("content-encoding",) if decode is not None else ()
    response = web.StreamResponse(status=upstream.status, headers=_client_headers(upstream, extra, drop))
    if tap is not None:
        tap.head(upstream.status, upstream.headers)
    try:
        await response.prepare(request)
    except ConnectionError:
        if tap is not None:
            tap.finish(upstream.status, "client_disconnected")
        return response, RelayOutcome.CLIENT_DISCONNECTED, None
    loop = asyncio.get_running_loop()
    state = _StreamState(loop.time())
    keeper = None
    if keepalive_secs and upstream.is_event_stream:
        keeper = asyncio.create_task(_keepalive(response, state, keepalive_secs, metrics))
    relayed = 0
    room = max_bytes if max_bytes is not None else -1
    first_at = 0.0
    outcome = RelayOutcome.COMPLETE
    failure: str | None = None
    try:
        try:
            async with asyncio.timeout_at(deadline):
                async for raw in upstream.iter_chunks():
                    chunk = decode(raw) if decode is not None else raw
                    if mask is not None:
                        chunk = mask(chunk)
                    if not chunk:
                        continue
                    if room >= 0:
                        room -= len(chunk)
                        if room < 0:
                            raise ResponseTooLarge(
                                f"the response passed http_server.max_response_bytes ({max_bytes} bytes) and was cut"
                            )
                    state.at_boundary = chunk.endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))
                    state.last = loop.time()
                    await response.write(chunk)
                    if not relayed:
                        first_at = time.perf_counter()
                        metrics.stream_started(labels[0], labels[1], first_at - started)
                    relayed += 1
                    if tap is not None:
                        tap.chunk(chunk)
                    if meter is not None:
                        meter.chunk(chunk)
        except TimeoutError:
            raise UpstreamTimeout("the request's total deadline passed during the response") from None
        if tap is not None:
            tap.finish(upstream.status, outcome_of(upstream.status))
        await response.write_eof()
    except UpstreamError as exc:
        outcome = RelayOutcome.UPSTREAM_ERROR
        failure = failure_kind(exc)
        tail = b""
        if upstream.is_event_stream:
            tail = (b"" if state.at_boundary else b"\n\n") + stream_error_event(dialect, exc)
        if tap is not None:
            tap.chunk(tail)
            kind: Outcome = "upstream_timeout" if isinstance(exc, UpstreamTimeout) else "upstream_error"
            tap.finish(upstream.status, kind, exc.message)
        with contextlib.suppress(ConnectionError):
            if tail:
                await response.write(tail)
            await response.write_eof()
    except ConnectionError:
        outcome = RelayOutcome.CLIENT_DISCONNECTED
        if tap is not None:
            tap.finish(upstream.status, "client_disconnected")
    finally:
        if keeper is not None:
            await cancel_and_wait(keeper)
        if relayed:
            metrics.stream_ended(labels[0], labels[1], time.perf_counter() - first_at, relayed)
    return response, outcome, failure


class _StreamState:
    __slots__ = ("at_boundary", "last")

    def __init__(self, now: float) -> None:
        self.at_boundary = True
        self.last = now


async def _keepalive(response: web.StreamResponse, state: _StreamState, interval: float, metrics: Metrics) -> None:
    """Once the stream has been silent for `interval` seconds, write a comment (only between events)."""
    loop = asyncio.get_running_loop()
    while True:
        delay = state.last + interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
            continue
        if state.at_boundary:
            try:
                await response.write(KEEPALIVE)
            except ConnectionError:
                return
            metrics.keepalive_sent()
        state.last = loop.time()
