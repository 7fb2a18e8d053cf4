"""The admin API under `/admin/` on the gateway port: gateway keys, the running gateway (`server._admin_ops`),
and its own OpenAPI description.

Every route wants `Authorization: Bearer <auth.admin_key>`; with no admin key configured every `/admin/` path
answers 404, as if there were none. Errors are `{"error": {"type", "message"}}`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from lunaroute.keys import CreatedKey, KeyChanges, KeyManager, KeyNotFound, KeyRecord, KeySpec
from lunaroute.server._admin_http import admin_only, error, json_response, read_json
from lunaroute.server._admin_ops import add_operations_routes
from lunaroute.server._admin_spec import openapi_document
from lunaroute.server._gateway import GATEWAY

__all__ = ["add_admin_routes"]

_KEY_ID = re.compile(r"key_[0-9a-f]{16}")


class _RotateBody(msgspec.Struct, forbid_unknown_fields=True):
    grace_secs: float = 0.0


def _record_json(record: KeyRecord) -> dict[str, object]:
    out: dict[str, object] = msgspec.to_builtins(record)
    out["status"] = record.status()
    return out


def _created_json(created: CreatedKey) -> dict[str, object]:
    return {**_record_json(created.record), "key": created.secret}


_Handler = Callable[[web.Request, KeyManager], Awaitable[web.Response]]


def _guarded(handler: _Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Behind the admin key: run `handler` with the key manager; map unknown ids to 404."""

    async def run(request: web.Request) -> web.Response:
        keys = request.app[GATEWAY].keys
        if keys is None:
            return error(503, "unavailable", "the key store is not open")
        key_id = request.match_info.get("key_id")
        if key_id is not None and not _KEY_ID.fullmatch(key_id):
            return error(404, "not_found_error", "no key has that id")
        try:
            return await handler(request, keys)
        except KeyNotFound:
            return error(404, "not_found_error", "no key has that id")

    return admin_only(run)


async def _list(request: web.Request, keys: KeyManager) -> web.Response:
    team = request.query.get("team")
    return json_response({"data": [_record_json(r) for r in await keys.list_keys(team)]})


async def _create(request: web.Request, keys: KeyManager) -> web.Response:
    spec = await read_json(request, KeySpec)
    return json_response(_created_json(await keys.create(spec)), status=201)


async def _show(request: web.Request, keys: KeyManager) -> web.Response:
    return json_response(_record_json(await keys.get(request.match_info["key_id"])))


async def _update(request: web.Request, keys: KeyManager) -> web.Response:
    changes = await read_json(request, KeyChanges)
    return json_response(_record_json(await keys.update(request.match_info["key_id"], changes)))


async def _revoke(request: web.Request, keys: KeyManager) -> web.Response:
    return json_response(_record_json(await keys.revoke(request.match_info["key_id"])))


async def _rotate(request: web.Request, keys: KeyManager) -> web.Response:
    body = await read_json(request, _RotateBody, optional=True)
    return json_response(_created_json(await keys.rotate(request.match_info["key_id"], grace_secs=body.grace_secs)))


async def _openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def _not_found(request: web.Request) -> web.Response:
    return error(404, "not_found_error", "not found")


def add_admin_routes(app: web.Application) -> None:
    """Register `/admin/...` (before the catch-all API route, so no admin path is ever proxied)."""
    router = app.router
    router.add_get("/admin/openapi.json", admin_only(_openapi))
    add_operations_routes(app)
    router.add_get("/admin/keys", _guarded(_list))
    router.add_post("/admin/keys", _guarded(_create))
    router.add_get("/admin/keys/{key_id}", _guarded(_show))
    router.add_patch("/admin/keys/{key_id}", _guarded(_update))
    router.add_post("/admin/keys/{key_id}/revoke", _guarded(_revoke))
    router.add_post("/admin/keys/{key_id}/rotate", _guarded(_rotate))
    router.add_route("*", "/admin", _not_found)
    router.add_route("*", "/admin/{tail:.*}", _not_found)
