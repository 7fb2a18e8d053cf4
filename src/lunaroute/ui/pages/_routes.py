"""The page handlers: each reads the store (and the JSONL tree), then renders one page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from lunaroute.recording._crypto import RecordCipher
from lunaroute.recording.events import SessionEvent, is_valid_session_id
from lunaroute.recording.query import JsonlArchive, PriceFn, SessionDetail, SessionStore
from lunaroute.ui import _params as p
from lunaroute.ui.pages import _format as f
from lunaroute.ui.pages._assets import StaticAssets
from lunaroute.ui.pages._dashboard import render_dashboard
from lunaroute.ui.pages._detail import DetailOptions, render_detail
from lunaroute.ui.pages._gate import pages_middleware
from lunaroute.ui.pages._layout import error_page, html_response, page
from lunaroute.ui.pages._sessions import FILTER_KEYS, ORDER_KEYS, ListView, render_sessions
from lunaroute.ui.pages._timeline import build_timeline

__all__ = ["add_pages"]


class _Choices:
    """The model and client names the filter form offers, re-read from the store at most every `ttl` seconds.

    Listing them scans the request table (the slowest part of a plain list page on a large database); a
    name that appears meanwhile is still accepted as a filter and shown as the selected value.
    """

    def __init__(self, store: SessionStore, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._value: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._at = 0.0

    async def get(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(models, clients), from the store when older than `ttl`."""
        if self._value is None or self.clock() - self._at > self.ttl:
            models, clients = await asyncio.gather(self.store.models(), self.store.user_agents())
            self._value, self._at = (models, clients), self.clock()
        return self._value


class _Pages:
    """The handlers, bound to one store and configuration (no module state)."""

    def __init__(
        self,
        store: SessionStore,
        archive: JsonlArchive | None,
        price: PriceFn | None,
        *,
        export_enabled: bool,
        delete_enabled: bool,
        refresh_secs: int = 5,
        keyed: bool = False,
    ) -> None:
        self.refresh_secs = refresh_secs
        self.keyed = keyed
        self.store = store
        self.archive = archive
        self.price = price
        self.choices = _Choices(store)
        self.export_enabled = export_enabled
        self.delete_enabled = delete_enabled

    async def dashboard(self, request: web.Request) -> web.Response:
        body = render_dashboard(request.query.get("window", "day"), self.refresh_secs)
        return html_response(page("Dashboard", "dashboard", body, scripts=("charts.js", "dashboard.js")))

    async def sessions(self, request: web.Request) -> web.Response:
        params = {k: request.query[k] for k in (*FILTER_KEYS, *ORDER_KEYS) if request.query.get(k)}
        deleted = request.query.get("deleted", "")
        notice = f"Session {deleted} was deleted." if is_valid_session_id(deleted) else None
        try:
            flt = p.session_filter(request.query)
            offset, limit = p.page_params(request.query, 50)
            sort, descending = p.sort_params(request.query)
        except p.BadParam as exc:
            models, clients = await self.choices.get()
            view = ListView(None, params, models, clients, error=str(exc), notice=notice, keyed=self.keyed)
            return html_response(page("Sessions", "sessions", render_sessions(view)), 400)
        listing, (models, clients) = await asyncio.gather(
            self.store.list_sessions(flt, offset=offset, limit=limit, sort=sort, descending=descending),
            self.choices.get(),
        )
        view = ListView(
            listing, params, models, clients, notice=notice, export_enabled=self.export_enabled, keyed=self.keyed
        )
        return html_response(page("Sessions", "sessions", render_sessions(view), scripts=("sessions.js",)))

    async def _events(self, detail: SessionDetail) -> list[SessionEvent]:
        if self.archive is None:
            return []
        sid, started = detail.summary.session_id, detail.summary.started_at
        return await asyncio.to_thread(self.archive.events, sid, started)

    async def session(self, request: web.Request) -> web.Response:
        sid = request.match_info["id"]
        detail = await self.store.get_session(sid) if is_valid_session_id(sid) else None
        if detail is None:
            return error_page(404, "Session not found", "No session with this id was recorded (or it was deleted).")
        try:
            number = p.int_param(request.query, "page", 1, low=1, high=10**6)
        except p.BadParam:
            number = 1
        views = build_timeline(detail, await self._events(detail), self.price)
        options = DetailOptions(self.export_enabled, self.delete_enabled, number)
        body = render_detail(detail, views, options)
        title = f"Session {f.short_id(sid, 16)}"
        return html_response(page(title, "sessions", body, scripts=("session.js",)))


def add_pages(
    app: web.Application,
    store: SessionStore,
    *,
    jsonl_dir: Path | None,
    cipher: RecordCipher | None = None,
    export_enabled: bool,
    delete_enabled: bool,
    auth_token: str | None,
    price: PriceFn | None = None,
    refresh_secs: int = 5,
    keyed: bool = False,
) -> None:
    """Mount the web pages on the UI application `app` (from `create_api_app`, not yet started).

    Routes: `/` (dashboard), `/sessions`, `/sessions/{id}` and `/static/{name}`. The pages' middleware
    (`_gate`) goes outside the API's: `?token=` sign-in when `auth_token` is set, HTML error pages. The
    store is the API's; `jsonl_dir` is where the conversation texts are read; `price` prices requests;
    `keyed` (the gateway requires keys) adds the key and team filters to the session list.
    """
    assets = StaticAssets()
    app.middlewares.insert(0, pages_middleware(auth_token, assets))
    pages = _Pages(
        store,
        JsonlArchive(jsonl_dir, cipher=cipher) if jsonl_dir is not None else None,
        price,
        export_enabled=export_enabled,
        delete_enabled=delete_enabled,
        refresh_secs=refresh_secs,
        keyed=keyed,
    )
    app.router.add_get("/", pages.dashboard)
    app.router.add_get("/sessions", pages.sessions)
    app.router.add_get("/sessions/{id}", pages.session)
    app.router.add_get("/static/{name}", assets.handle)
