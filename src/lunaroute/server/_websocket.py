"""The Responses API over a WebSocket: `GET /v1/responses` (or `/responses`) with an Upgrade, as Codex speaks it
when its provider sets `supports_websockets = true`.

Each text frame `{"type": "response.create", ...}` is a Responses request (the rest of the frame is its body,
always streamed): it runs through the same pipeline as `POST /v1/responses` — passthrough to a provider that
serves the Responses API, translated for any other — and each event of the answer goes back as one text frame
(the JSON of the event). An error (refused request, upstream error status, gateway error) is one frame
`{"type": "error", "status": N, "error": {...}}` and the connection stays open. One response is in flight per
connection; pings are answered; a client that closes cancels the upstream call. A frame with `generate: false`
(Codex warms a connection up with one) is answered with an empty completed response, without a model call.

A frame may continue a response of the same connection with `previous_response_id` also when that response was
not stored (`store: false`, as Codex sends): the connection keeps its own responses until it closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import WSMsgType, web

from lunaroute.calls import Inbound
from lunaroute.dialects import openai_responses
from lunaroute.dialects._sse import SSEParser
from lunaroute.dialects.errors import error_body, error_headers
from lunaroute.dialects.passthrough import top_level
from lunaroute.errors import InvalidRequest, LunaRouteError
from lunaroute.model import MessageDelta, MessageStart, MessageStop, Usage
from lunaroute.policies import Admission
from lunaroute.responses import ChainedStore, MemoryResponseStore, StoredResponse, continue_from, input_items
from lunaroute.routing import Route, normalise_path
from lunaroute.server._gateway import GATEWAY, Gateway
from lunaroute.server._limits import check_headers
from lunaroute.translate import new_response_id
from lunaroute.types import Endpoint, UpstreamResponse

__all__ = ["responses_socket"]

_log = logging.getLogger("lunaroute.server")
_ROUTE = Route(Endpoint.OPENAI_RESPONSES, "/responses", bypass=False)
_TERMINAL = frozenset({"response.completed", "response.incomplete"})
_UPGRADE_HEADERS = frozenset({"upgrade", "connection", "sec-websocket-extensions", "sec-websocket-protocol"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error_frame(status: int, error: object) -> str:
    return msgspec.json.encode({"type": "error", "status": status, "error": error}).decode()


def _gateway_error(exc: LunaRouteError) -> str:
    return _error_frame(exc.status, msgspec.json.decode(error_body("openai", exc))["error"])


def _upstream_error(status: int, body: bytes) -> str:
    try:
        parsed = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        error = {"type": "server_error", "message": body[:500].decode("utf-8", errors="replace") or f"status {status}"}
    return _error_frame(status, error)


class _Connection:
    """One socket: its headers and key, its own responses, and the response in flight."""

    def __init__(self, gw: Gateway, ws: web.WebSocketResponse, headers: list[tuple[str, str]], admission: Admission):
        self.gw = gw
        self.ws = ws
        self.headers = [(n, v) for n, v in headers if n not in _UPGRADE_HEADERS and not n.startswith("sec-websocket")]
        self.principal = admission.principal
        self.own = MemoryResponseStore()
        self.continued = ChainedStore(self.own, gw.pipeline.responses)

    async def create(self, text: str) -> None:
        """Serve one `response.create` frame; every failure becomes an error frame (the client may have gone)."""
        try:
            await self._create(text)
        except LunaRouteError as exc:
            await self._try_send(_gateway_error(exc))
        except ConnectionError:
            pass  # the client closed the socket while the answer was under way: nothing to tell it

    async def _try_send(self, text: str) -> None:
        if not self.ws.closed:
            try:
                await self.ws.send_str(text)
            except ConnectionError:
                pass

    async def _create(self, text: str) -> None:
        try:
            frame = msgspec.json.decode(text)
        except (msgspec.DecodeError, ValueError, RecursionError):
            raise InvalidRequest("the frame is not valid JSON") from None
        if not isinstance(frame, dict) or frame.get("type") != "response.create":
            raise InvalidRequest("expected a frame of type response.create", param="type")
        del frame["type"]
        frame["stream"] = True
        model = frame.get("model")
        body, answered = await continue_from(self.continued, msgspec.json.encode(frame))
        if frame.get("generate") is False:
            await self._warm_up(body, answered, model if isinstance(model, str) else "")
            return
        gw = self.gw
        request_id = gw.new_request_id()
        admission = Admission(principal=self.principal)
        model_name = model if isinstance(model, str) else None
        model_name, body, headers = await gw.policies.admit(
            admission, Endpoint.OPENAI_RESPONSES, model_name, body, self.headers, request_id
        )
        inbound = Inbound(
            route=_ROUTE,
            method="POST",
            query="",
            headers=list(headers),
            body=body,
            model=model_name,
            stream=True,
            request_id=request_id,
        )
        provider: str | None = None
        status: int | None = None
        try:
            outbound = await gw.pipeline.send(inbound)
            provider, status = outbound.provider.name, outbound.response.status
            try:
                await self._relay(outbound.response, answered, body)
            finally:
                outbound.close()
        finally:
            admission.settle(provider, model_name, status)

    async def _warm_up(self, body: bytes, answered: list[object] | None, model: str) -> None:
        """`generate: false` (Codex warms a connection up with it): an empty completed response, no model call."""
        encoder = openai_responses.StreamEncoder(
            response_id=new_response_id(), echo=openai_responses.request_echo(body)
        )
        events = (MessageStart(id="", model=model), MessageDelta(stop_reason="end_turn", usage=Usage()), MessageStop())
        stream = b"".join(encoder.encode(event) for event in events)
        for event in SSEParser().feed(stream):
            await self._send(event.data, answered, body)

    async def _relay(self, response: UpstreamResponse, answered: list[object] | None, body: bytes) -> None:
        if response.status >= 400:
            await self.ws.send_str(_upstream_error(response.status, await response.read()))
            return
        if not response.is_event_stream:
            await self.ws.send_str(
                _error_frame(502, {"type": "server_error", "message": "the upstream did not stream"})
            )
            return
        parser = SSEParser()
        async for chunk in response.iter_chunks():
            for event in parser.feed(chunk):
                await self._send(event.data, answered, body)
        for event in parser.finish():
            await self._send(event.data, answered, body)

    async def _send(self, data: str, answered: list[object] | None, body: bytes) -> None:
        await self.ws.send_str(data)
        if "response.completed" in data or "response.incomplete" in data:
            await _keep(self.own, data, answered, body)


async def _keep(own: MemoryResponseStore, data: str, answered: list[object] | None, body: bytes) -> None:
    event = msgspec.json.decode(data)
    response = event.get("response") if isinstance(event, dict) else None
    if not isinstance(response, dict) or not isinstance(response.get("id"), str):
        return
    items = answered if answered is not None else input_items(top_level(body).get("input"))
    created = response.get("created_at")
    stored = StoredResponse(
        id=response["id"],
        created_at=int(created) if isinstance(created, int | float) else 0,
        input=msgspec.json.encode(items),
        response=msgspec.json.encode(response),
    )
    await own.put(stored)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        _log.error("response.create over a WebSocket failed", exc_info=exc)


def responses_socket(proxy: Handler) -> Handler:
    """The handler of `GET /v1/responses`: a WebSocket upgrade is served here, any other request goes to `proxy`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        gw = request.app[GATEWAY]
        ws = web.WebSocketResponse(autoping=True, max_msg_size=gw.config.http_server.max_request_body_bytes)
        if not ws.can_prepare(request).ok:
            return await proxy(request)
        try:
            headers = check_headers(request, gw.config.http_server)
            admission, checked = gw.policies.identify(headers, request.remote, normalise_path(request.raw_path))
        except LunaRouteError as exc:
            return web.Response(status=exc.status, body=error_body("openai", exc), headers=error_headers(exc))
        await ws.prepare(request)
        connection = _Connection(gw, ws, list(checked), admission)
        running: asyncio.Task[None] | None = None
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    if running is not None and not running.done():
                        busy = InvalidRequest("a response is already in progress on this connection")
                        await ws.send_str(_gateway_error(busy))
                        continue
                    running = asyncio.create_task(connection.create(message.data))
                    running.add_done_callback(_log_failure)
                elif message.type is WSMsgType.BINARY:
                    await ws.send_str(_gateway_error(InvalidRequest("binary frames are not supported")))
        finally:
            if running is not None and not running.done():
                running.cancel()  # the client closed (or the server stops): the upstream call ends with it
                await asyncio.wait({running})
            await connection.own.aclose()
        return ws

    return handle
