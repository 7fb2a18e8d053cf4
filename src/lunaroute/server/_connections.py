"""Client connections of the gateway listener: the global and per-address caps, the header and idle deadlines.

aiohttp's `RequestHandler` is the protocol of one connection. `GuardedHandler` adds to it:

- on arrival, `ConnectionCaps.admit` counts the connection; past `max_connections` (or
  `max_connections_per_client` from one address) it is closed at once, before any byte is read;
- a header deadline: from the connection's opening, and again from the first byte after an idle keep-alive pause,
  the complete request head must arrive within `header_timeout_secs`, else 408 (when bytes were sent) and close;
- an idle deadline: after a response, a keep-alive connection that starts no new request within
  `idle_timeout_secs` is closed.

One timer per connection; `data_received` only compares a counter, so the hot path pays next to nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from lunaroute.config import HttpServerConfig
from lunaroute.dialects.errors import error_body
from lunaroute.errors import RequestTimeout
from lunaroute.observability import Metrics

__all__ = ["ConnectionCaps", "GuardedRunner", "GuardedServer"]

_Phase = Literal["header", "idle"]
_log = logging.getLogger("lunaroute.server")
_MAX_ERROR_CHARS = 200


class ConnectionCaps:
    """Open connections, in total and per client address, shared by every connection of one listener."""

    def __init__(self, config: HttpServerConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.total = 0
        self.per_client: Counter[str] = Counter()

    def admit(self, peer: str) -> bool:
        """Count a new connection from `peer`; False (and nothing counted) when a cap is reached."""
        config = self.config
        if config.max_connections is not None and self.total >= config.max_connections:
            self.metrics.connection_refused("global_cap")
            return False
        cap = config.max_connections_per_client
        if cap is not None and self.per_client[peer] >= cap:
            self.metrics.connection_refused("client_cap")
            return False
        self.total += 1
        self.per_client[peer] += 1
        self.metrics.connection_opened()
        return True

    def release(self, peer: str) -> None:
        """Forget a connection `admit` counted."""
        self.total -= 1
        left = self.per_client[peer] - 1
        if left > 0:
            self.per_client[peer] = left
        else:
            del self.per_client[peer]
        self.metrics.connection_closed()


def _one_line(text: str) -> str:
    """`text` as one printable line of at most `_MAX_ERROR_CHARS` characters (control characters escaped)."""
    return " ".join(text.split()).encode("unicode_escape").decode("ascii")[:_MAX_ERROR_CHARS]


def _timeout_response(seconds: float) -> bytes:
    body = error_body("openai", RequestTimeout(f"the request headers did not arrive within {seconds:g} seconds"))
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol with the caps and deadlines of `http_server` (see the module docstring)."""

    __slots__ = ("_admitted", "_caps", "_peer", "_phase", "_seen", "_sent_bytes", "_timer")

    def __init__(self, manager: web.Server, caps: ConnectionCaps, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._caps = caps
        self._peer = ""
        self._admitted = False
        self._timer: asyncio.TimerHandle | None = None
        self._phase: _Phase | None = None
        self._sent_bytes = False
        self._seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self._caps.admit(self._peer):
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm("header")

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._disarm()
        self._caps.release(self._peer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        phase = self._phase
        if phase is not None and data:
            if phase == "idle":
                self._arm("header")
            self._sent_bytes = True
        super().data_received(data)
        if self._request_count != self._seen:
            # A request head (or a parse error standing for one) arrived: no deadline while it is answered.
            self._seen = self._request_count
            self._disarm()
            self._phase = None

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        result = await super().finish_response(request, resp, start_time)
        if self._admitted:
            self._arm("idle")
        return result

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp reports a request it could not parse here, with a traceback that says nothing more than the
        parser's message: log it as one line (the client's bytes in it escaped and capped) instead."""
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            _log.warning(
                "bad http request",
                extra={"peer": self._peer, "status": exc.code, "error": _one_line(exc.message or type(exc).__name__)},
            )
            return
        super().log_exception(*args, **kwargs)

    def _arm(self, phase: _Phase) -> None:
        self._disarm()
        self._phase = phase
        self._sent_bytes = False
        config = self._caps.config
        delay = config.header_timeout_secs if phase == "header" else config.idle_timeout_secs
        self._timer = self._loop.call_later(delay, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        phase = self._phase
        if phase is None or self.transport is None or self._force_close:
            return
        waiter = self._waiter
        if waiter is None or waiter.done() or self._messages:
            # Still busy with the last request (its body lingering, or a pipelined head queued): look again later.
            sent = self._sent_bytes
            self._arm(phase)
            self._sent_bytes = sent
            return
        self._caps.metrics.connection_timed_out(phase)
        if phase == "header" and self._sent_bytes:
            self.transport.write(_timeout_response(self._caps.config.header_timeout_secs))
        self.force_close()


class GuardedServer(web.Server):
    """aiohttp's protocol factory, making `GuardedHandler`s that share one `ConnectionCaps`."""

    def __init__(self, plain: web.Server, caps: ConnectionCaps) -> None:
        # Same handler, request factory and handler options as the server `AppRunner` built from the app.
        super().__init__(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
        self.caps = caps

    def __call__(self) -> GuardedHandler:
        return GuardedHandler(self, self.caps, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An `AppRunner` whose listener sockets speak through `GuardedHandler`s."""

    def __init__(self, app: web.Application, caps: ConnectionCaps, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.caps = caps

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server(), self.caps)
