"""The admin API under `/admin/` on the gateway port: gateway keys, and its own OpenAPI description.

Every route wants `Authorization: Bearer <auth.admin_key>`; with no admin key configured every `/admin/` path
answers 404, as if there were none. Errors are `{"error": {"type", "message"}}`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from lunaroute.keys import CreatedKey, KeyChanges, KeyManager, KeyNotFound, KeyRecord, KeySpec
from lunaroute.server._admin_spec import openapi_document
from lunaroute.server._gateway import GATEWAY

__all__ = ["add_admin_routes"]

_KEY_ID = re.compile(r"key_[0-9a-f]{16}")
_MAX_BODY = 64 * 1024
_encode = msgspec.json.Encoder().encode


class _RotateBody(msgspec.Struct, forbid_unknown_fields=True):
    grace_secs: float = 0.0


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=_encode({"error": {"type": kind, "message": message}}),
        content_type="application/json",
        headers={"cache-control": "no-store"},
    )


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=_encode(value), content_type="application/json", headers={"cache-control": "no-store"}
    )


def _record_json(record: KeyRecord) -> dict[str, object]:
    out: dict[str, object] = msgspec.to_builtins(record)
    out["status"] = record.status()
    return out


def _created_json(created: CreatedKey) -> dict[str, object]:
    return {**_record_json(created.record), "key": created.secret}


_Handler = Callable[[web.Request, KeyManager], Awaitable[web.Response]]


def _guarded(handler: _Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Check the admin key, then run `handler` with the key manager; map bad input and unknown ids."""

    async def run(request: web.Request) -> web.Response:
        gw = request.app[GATEWAY]
        admin_key = gw.config.auth.admin_key
        if admin_key is None:
            return _error(404, "not_found_error", "not found")
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), admin_key.encode()):
            return _error(401, "authentication_error", "the admin API wants Authorization: Bearer <auth.admin_key>")
        if gw.keys is None:
            return _error(503, "unavailable", "the key store is not open")
        key_id = request.match_info.get("key_id")
        if key_id is not None and not _KEY_ID.fullmatch(key_id):
            return _error(404, "not_found_error", "no key has that id")
        try:
            return await handler(request, gw.keys)
        except KeyNotFound:
            return _error(404, "not_found_error", "no key has that id")
        except (ValueError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            return _error(400, "invalid_request_error", str(exc))

    return run


async def _body(request: web.Request, kind: type[msgspec.Struct], *, optional: bool = False) -> msgspec.Struct:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise ValueError(f"the body is larger than {_MAX_BODY} bytes")
    raw = await request.content.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise ValueError(f"the body is larger than {_MAX_BODY} bytes")
    if not raw.strip() and optional:
        return kind()
    return msgspec.json.decode(raw, type=kind)


async def _list(request: web.Request, keys: KeyManager) -> web.Response:
    team = request.query.get("team")
    return _json({"data": [_record_json(r) for r in await keys.list_keys(team)]})


async def _create(request: web.Request, keys: KeyManager) -> web.Response:
    spec = await _body(request, KeySpec)
    assert isinstance(spec, KeySpec)
    return _json(_created_json(await keys.create(spec)), status=201)


async def _show(request: web.Request, keys: KeyManager) -> web.Response:
    return _json(_record_json(await keys.get(request.match_info["key_id"])))


async def _update(request: web.Request, keys: KeyManager) -> web.Response:
    changes = await _body(request, KeyChanges)
    assert isinstance(changes, KeyChanges)
    return _json(_record_json(await keys.update(request.match_info["key_id"], changes)))


async def _revoke(request: web.Request, keys: KeyManager) -> web.Response:
    return _json(_record_json(await keys.revoke(request.match_info["key_id"])))


async def _rotate(request: web.Request, keys: KeyManager) -> web.Response:
    body = await _body(request, _RotateBody, optional=True)
    assert isinstance(body, _RotateBody)
    return _json(_created_json(await keys.rotate(request.match_info["key_id"], grace_secs=body.grace_secs)))


async def _openapi(request: web.Request, keys: KeyManager) -> web.Response:
    return _json(openapi_document())


async def _not_found(request: web.Request) -> web.Response:
    return _error(404, "not_found_error", "not found")


def add_admin_routes(app: web.Application) -> None:
    """Register `/admin/...` (before the catch-all API route, so no admin path is ever proxied)."""
    router = app.router
    router.add_get("/admin/openapi.json", _guarded(_openapi))
    router.add_get("/admin/keys", _guarded(_list))
    router.add_post("/admin/keys", _guarded(_create))
    router.add_get("/admin/keys/{key_id}", _guarded(_show))
    router.add_patch("/admin/keys/{key_id}", _guarded(_update))
    router.add_post("/admin/keys/{key_id}/revoke", _guarded(_revoke))
    router.add_post("/admin/keys/{key_id}/rotate", _guarded(_rotate))
    router.add_route("*", "/admin", _not_found)
    router.add_route("*", "/admin/{tail:.*}", _not_found)
