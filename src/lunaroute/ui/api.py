"""The read-only session JSON API of the UI listener, at the Rust LunaRoute's `/api/...` paths.

`create_api_app` builds an aiohttp application over a `SessionStore` (and the JSONL tree for raw events and
exports). Every handler decodes its parameters (`_params`), awaits one store call and encodes the typed
result with msgspec; errors are JSON (`_middleware`). Export and delete exist only when enabled (403
otherwise).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from lunaroute.hosts import HostCheck
from lunaroute.recording._crypto import RecordCipher
from lunaroute.recording.events import RequestRecorded, ResponseRecorded, SessionEvent
from lunaroute.recording.query import (
    MAX_PAGE,
    JsonlArchive,
    SessionExport,
    SessionFilter,
    SessionStore,
    SessionSummary,
    events_jsonl,
    requests_csv,
    sessions_csv,
)
from lunaroute.ui import _params as p
from lunaroute.ui._middleware import auth_middleware, error_middleware, host_middleware, json_error

__all__ = ["RawRequest", "create_api_app"]

_ENCODER = msgspec.json.Encoder()
_HOURS_MAX = 24 * 366 * 10
_EXPORT_MAX = 100_000
"""The most sessions one list export holds (filter further for more)."""


class RawRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The recorded events of one request; `request` / `response` are its request and response bodies."""

    session_id: str
    request_id: str
    request: msgspec.Raw | None
    response: msgspec.Raw | None
    events: tuple[SessionEvent, ...]


def _json(value: object) -> web.Response:
    return web.Response(body=_ENCODER.encode(value), content_type="application/json")


def _not_found(what: str) -> web.Response:
    return json_error(404, f"{what} not found")


class _Api:
    """The handlers, bound to one store and configuration (no module state)."""

    def __init__(
        self, store: SessionStore, archive: JsonlArchive | None, *, export_enabled: bool, delete_enabled: bool
    ) -> None:
        self.store = store
        self.archive = archive
        self.export_enabled = export_enabled
        self.delete_enabled = delete_enabled

    def _hours(self, request: web.Request, default: int) -> int:
        return p.int_param(request.query, "hours", default, low=1, high=_HOURS_MAX)

    async def overview(self, request: web.Request) -> web.Response:
        return _json(await self.store.overview(self._hours(request, 24)))

    async def tokens(self, request: web.Request) -> web.Response:
        return _json(await self.store.tokens_per_day(p.int_param(request.query, "days", 7, low=1, high=3660)))

    async def tools(self, request: web.Request) -> web.Response:
        return _json(await self.store.tool_usage(p.int_param(request.query, "limit", 50, low=1, high=1000)))

    async def costs(self, request: web.Request) -> web.Response:
        return _json(await self.store.cost_stats())

    async def models_stats(self, request: web.Request) -> web.Response:
        ua = p.text_param(request.query, "user_agent")
        return _json(await self.store.model_usage(self._hours(request, 24), ua))

    async def keys(self, request: web.Request) -> web.Response:
        return _json(await self.store.key_usage(self._hours(request, 24)))

    async def clients(self, request: web.Request) -> web.Response:
        limit = p.int_param(request.query, "limit", 10, low=1, high=1000)
        return _json(await self.store.client_usage(self._hours(request, 24), limit))

    async def hours(self, request: web.Request) -> web.Response:
        return _json(await self.store.hours_of_day(self._hours(request, 24 * 7)))

    async def spending(self, request: web.Request) -> web.Response:
        return _json(await self.store.spending(self._hours(request, 24)))

    async def latency(self, request: web.Request) -> web.Response:
        return _json(await self.store.latency_by_model(self._hours(request, 24)))

    async def errors(self, request: web.Request) -> web.Response:
        return _json(await self.store.errors_by_status(self._hours(request, 24)))

    async def activity(self, request: web.Request) -> web.Response:
        minutes = p.int_param(request.query, "minutes", 1, low=1, high=60)
        if 60 % minutes:
            return json_error(400, "minutes must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)")
        hours = p.int_param(request.query, "hours", 1, low=1, high=48)
        return _json(await self.store.activity(hours, minutes))

    async def sessions(self, request: web.Request) -> web.Response:
        offset, limit = p.page_params(request.query, 50)
        sort, descending = p.sort_params(request.query)
        flt = p.session_filter(request.query)
        return _json(await self.store.list_sessions(flt, offset=offset, limit=limit, sort=sort, descending=descending))

    async def recent(self, request: web.Request) -> web.Response:
        limit = p.int_param(request.query, "limit", 10, low=1, high=100)
        page = await self.store.list_sessions(SessionFilter(), limit=limit)
        return _json(page.sessions)

    async def session(self, request: web.Request) -> web.Response:
        detail = await self.store.get_session(p.session_id(request.match_info["id"]))
        return _not_found("session") if detail is None else _json(detail)

    async def timeline(self, request: web.Request) -> web.Response:
        sid = p.session_id(request.match_info["id"])
        offset, limit = p.page_params(request.query, 20)
        page = await self.store.timeline(sid, offset=offset, limit=limit, order=p.order_param(request.query))
        return _not_found("session") if page is None else _json(page)

    async def session_tools(self, request: web.Request) -> web.Response:
        stats = await self.store.session_tools(p.session_id(request.match_info["id"]))
        return _not_found("session") if stats is None else _json(stats)

    async def _events(self, sid: str, request_id: str | None = None) -> list[SessionEvent] | None:
        """The session's raw events, or None when the session is unknown or no JSONL tree is configured."""
        if self.archive is None:
            return None
        detail = await self.store.get_session(sid)
        started = detail.summary.started_at if detail else None
        events = await asyncio.to_thread(self.archive.events, sid, started, request_id=request_id)
        return events if detail is not None or events else None

    async def raw(self, request: web.Request) -> web.Response:
        sid = p.session_id(request.match_info["id"])
        rid = p.request_id(request.match_info["request_id"])
        events = await self._events(sid, rid)
        if not events:
            return _not_found("request")
        body: dict[str, msgspec.Raw | None] = {"request": None, "response": None}
        for ev in events:
            if isinstance(ev, RequestRecorded):
                body["request"] = msgspec.Raw(_ENCODER.encode(ev.request_json))
            elif isinstance(ev, ResponseRecorded):
                body["response"] = msgspec.Raw(_ENCODER.encode(ev.response_json))
        return _json(RawRequest(session_id=sid, request_id=rid, events=tuple(events), **body))

    async def export(self, request: web.Request) -> web.Response:
        if not self.export_enabled:
            return json_error(403, "export is disabled")
        sid = p.session_id(request.match_info["id"])
        fmt = request.query.get("format", "jsonl")
        if fmt not in ("jsonl", "json", "csv"):
            raise p.BadParam("format must be jsonl, json or csv")
        detail = await self.store.get_session(sid)
        events = await self._events(sid) or []
        if detail is None and not events:
            return _not_found("session")
        if fmt == "jsonl":
            body, ctype = b"".join(events_jsonl(events)), "application/x-ndjson"
        elif fmt == "json" and detail is not None:
            body, ctype = _ENCODER.encode(SessionExport(session=detail, events=tuple(events))), "application/json"
        elif fmt == "csv" and detail is not None:
            body, ctype = "".join(requests_csv(sid, detail.requests)).encode(), "text/csv"
        else:
            return _not_found("session")
        disposition = f'attachment; filename="{sid}.{fmt}"'
        return web.Response(body=body, content_type=ctype, headers={"Content-Disposition": disposition})

    async def export_list(self, request: web.Request) -> web.Response:
        """Every session matching the list filters (at most `_EXPORT_MAX`), as CSV or JSON, in the list's order."""
        if not self.export_enabled:
            return json_error(403, "export is disabled")
        fmt = request.query.get("format", "csv")
        if fmt not in ("json", "csv"):
            raise p.BadParam("format must be json or csv")
        flt = p.session_filter(request.query)
        sort, descending = p.sort_params(request.query)
        sessions: list[SessionSummary] = []
        while len(sessions) < _EXPORT_MAX:
            page = await self.store.list_sessions(
                flt,
                offset=len(sessions),
                limit=min(MAX_PAGE, _EXPORT_MAX - len(sessions)),
                sort=sort,
                descending=descending,
            )
            sessions.extend(page.sessions)
            if not page.sessions or not page.has_more:
                break
        if fmt == "csv":
            body, ctype = "".join(sessions_csv(sessions)).encode(), "text/csv"
        else:
            body, ctype = _ENCODER.encode(sessions), "application/json"
        disposition = f'attachment; filename="sessions.{fmt}"'
        return web.Response(body=body, content_type=ctype, headers={"Content-Disposition": disposition})

    async def delete(self, request: web.Request) -> web.Response:
        if not self.delete_enabled:
            return json_error(403, "deleting sessions is disabled")
        sid = p.session_id(request.match_info["id"])
        deleted = await self.store.delete_session(sid)
        files = await asyncio.to_thread(self.archive.delete, sid) if self.archive is not None else 0
        if not deleted and not files:
            return _not_found("session")
        return _json({"session_id": sid, "deleted": True, "files_removed": files})

    async def user_agents(self, request: web.Request) -> web.Response:
        return _json(await self.store.user_agents())

    async def models(self, request: web.Request) -> web.Response:
        return _json(await self.store.models())


def create_api_app(
    store: SessionStore,
    *,
    jsonl_dir: Path | None,
    cipher: RecordCipher | None = None,
    export_enabled: bool,
    delete_enabled: bool,
    auth_token: str | None,
    hosts: HostCheck | None = None,
) -> web.Application:
    """The `/api/...` application over `store`; `jsonl_dir` enables raw events (and JSONL export/delete).

    With `hosts`, a request whose `Host` it does not allow gets 400 (DNS rebinding), before any other check.

    With `auth_token` every request needs `Authorization: Bearer <auth_token>` (else 401). The caller owns
    `store` and closes it after the application has shut down.
    """
    middlewares: list[Middleware] = [error_middleware]
    if hosts is not None:
        middlewares.append(host_middleware(hosts))
    if auth_token:
        middlewares.append(auth_middleware(auth_token))
    app = web.Application(middlewares=middlewares)
    api = _Api(
        store,
        JsonlArchive(jsonl_dir, cipher=cipher) if jsonl_dir is not None else None,
        export_enabled=export_enabled,
        delete_enabled=delete_enabled,
    )
    get = app.router.add_get
    get("/api/stats/overview", api.overview)
    get("/api/stats/tokens", api.tokens)
    get("/api/stats/tools", api.tools)
    get("/api/stats/costs", api.costs)
    get("/api/stats/models", api.models_stats)
    get("/api/stats/clients", api.clients)
    get("/api/stats/keys", api.keys)
    get("/api/stats/hours", api.hours)
    get("/api/stats/spending", api.spending)
    get("/api/stats/activity", api.activity)
    get("/api/stats/latency", api.latency)
    get("/api/stats/errors", api.errors)
    get("/api/sessions", api.sessions)
    get("/api/sessions/recent", api.recent)
    get("/api/sessions/{id}", api.session)
    app.router.add_delete("/api/sessions/{id}", api.delete)
    get("/api/sessions/{id}/timeline", api.timeline)
    get("/api/sessions/{id}/tools", api.session_tools)
    get("/api/sessions/{id}/raw/{request_id}", api.raw)
    get("/api/sessions/{id}/export", api.export)
    get("/api/export/sessions", api.export_list)
    get("/api/user-agents", api.user_agents)
    get("/api/models", api.models)
    return app
