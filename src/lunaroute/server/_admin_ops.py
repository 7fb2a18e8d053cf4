"""Admin routes for the running gateway: its config and reloads, its providers, a routing dry run, and the
deletion of a recorded session. Registered by `server._admin` behind the admin key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import asyncpg  # type: ignore[import-untyped]
import msgspec
from aiohttp import web

from lunaroute.config import SessionRecordingConfig, masked_config
from lunaroute.errors import LunaRouteError
from lunaroute.recording.events import is_valid_session_id
from lunaroute.recording.postgres import PostgresWriter
from lunaroute.recording.query import JsonlArchive, SqliteSessionStore, StoreUnavailable, list_price
from lunaroute.server._admin_http import admin_only, error, json_response, read_json
from lunaroute.server._explain import explain_route
from lunaroute.server._gateway import GATEWAY
from lunaroute.server._reload import RELOADER
from lunaroute.server._runtime import Runtime

__all__ = ["add_operations_routes", "delete_recorded_session", "provider_status"]


class _RouteQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST /admin/route`: the request to route, as `lunaroute route` takes it."""

    model: str
    dialect: Literal["anthropic", "openai"] = "anthropic"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    path: str | None = None
    """The upstream path (default `/messages` or `/chat/completions`)."""


class DeletedSession(msgspec.Struct, frozen=True):
    session_id: str
    deleted_from: list[str]
    """The stores that held the session: `sqlite`, `postgres`, `jsonl`."""
    files_removed: int


async def _config(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    effective = masked_config(gateway.runtime.config, gateway.scrubber.text)
    return json_response({"config": effective, "reload": request.app[RELOADER].status})


async def _reload(request: web.Request) -> web.Response:
    status = await request.app[RELOADER].reload("admin")
    if status.last_result == "error":
        return error(422, "config_error", status.last_error or "the config was not reloaded", reload=status)
    return json_response({"reload": status})


def provider_status(runtime: Runtime) -> list[dict[str, object]]:
    """Each provider of `runtime`: dialect, URL, breaker state, health window, requests in flight, last error
    (what `GET /admin/providers` and the UI's `/api/providers` show)."""
    resilience = runtime.pipeline.resilience
    health = resilience.health.snapshot()
    data: list[dict[str, object]] = []
    for name, provider in runtime.pipeline.router.providers.items():
        entry = health.get(name)
        breaker = resilience.breakers.get(name)
        last_error = breaker.last_failure if breaker is not None else None
        data.append(
            {
                "name": name,
                "dialect": provider.dialect,
                "base_url": runtime.config.providers[name].base_url,
                "breaker": resilience.state(name).value,
                "health": msgspec.to_builtins(entry) if entry is not None else None,
                "in_flight": resilience.in_flight.get(name),
                "last_error": (entry.last_failure if entry is not None else None) or last_error,
            }
        )
    return data


async def _providers(request: web.Request) -> web.Response:
    return json_response({"data": provider_status(request.app[GATEWAY].runtime)})


async def _route(request: web.Request) -> web.Response:
    query = await read_json(request, _RouteQuery)
    headers = [(name.strip().lower(), value.strip()) for name, value in query.headers.items()]
    try:
        explained = explain_route(
            request.app[GATEWAY].runtime.config,
            model=query.model,
            dialect=query.dialect,
            headers=headers,
            path=query.path,
        )
    except LunaRouteError as exc:
        return error(422, "no_route", exc.message)
    return json_response(explained)


async def delete_recorded_session(config: SessionRecordingConfig, session_id: str) -> DeletedSession:
    """Delete `session_id` from every configured store. A session still being recorded may reappear with the
    exchanges that follow."""
    stores: list[str] = []
    files = 0
    db = Path(config.sqlite.path) if config.sqlite.enabled and config.sqlite.path else None
    if db is not None and await asyncio.to_thread(db.exists):
        store = SqliteSessionStore(db, price=list_price, workers=1)
        try:
            if await store.delete_session(session_id):
                stores.append("sqlite")
        finally:
            await store.close()
    pg = config.postgres
    if pg.enabled:
        writer = await PostgresWriter.open(
            pg.connection_string,
            schema=pg.schema,
            min_connections=1,
            max_connections=1,
            acquire_timeout_s=pg.acquire_timeout_seconds,
        )
        try:
            if await writer.delete_session(session_id):
                stores.append("postgres")
        finally:
            await writer.close()
    if config.jsonl.enabled and config.jsonl.directory:
        files = await asyncio.to_thread(JsonlArchive(Path(config.jsonl.directory)).delete, session_id)
        if files:
            stores.append("jsonl")
    return DeletedSession(session_id, stores, files)


async def _delete_session(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    config = request.app[GATEWAY].config.session_recording
    if not config.enabled:
        return error(404, "not_found_error", "sessions are not recorded")
    if not is_valid_session_id(session_id):
        return error(404, "not_found_error", "no session has that id")
    try:
        deleted = await delete_recorded_session(config, session_id)
    except (OSError, StoreUnavailable, asyncpg.PostgresError) as exc:
        return error(503, "unavailable", f"a session store cannot be reached: {exc}")
    if not deleted.deleted_from:
        return error(404, "not_found_error", "no session has that id")
    return json_response(deleted)


def add_operations_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/admin/config", admin_only(_config))
    router.add_post("/admin/reload", admin_only(_reload))
    router.add_get("/admin/providers", admin_only(_providers))
    router.add_post("/admin/route", admin_only(_route))
    router.add_delete("/admin/sessions/{session_id}", admin_only(_delete_session))
