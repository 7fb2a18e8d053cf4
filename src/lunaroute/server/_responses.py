"""`GET` and `DELETE /v1/responses/{id}` (also without `/v1`) for the responses the gateway served by translation.

A stored response is answered from the store; an id the store does not have goes on to the default OpenAI
provider when that one serves the Responses API itself (its own responses live there), else it is the
Responses API's own 404. The gateway key is checked as on every API path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from lunaroute.dialects.errors import error_body, error_headers
from lunaroute.errors import LunaRouteError, NotFound
from lunaroute.hosts import HostCheck
from lunaroute.routing import normalise_path
from lunaroute.server._gateway import GATEWAY, Gateway
from lunaroute.server._limits import check_headers
from lunaroute.server._trusted_host import host_checked
from lunaroute.translate import wire_of

__all__ = ["add_response_routes"]


def _upstream_has_responses(gw: Gateway) -> bool:
    router = gw.pipeline.router
    name = router.defaults.get("openai")
    provider = router.providers.get(name) if name is not None else None
    return gw.config.bypass.enabled and provider is not None and wire_of(provider) in ("openai", "openai_responses")


def add_response_routes(
    app: web.Application, hosts: HostCheck, proxy: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> None:
    """Serve stored responses at their paths; anything else on those paths goes to `proxy`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        gw = request.app[GATEWAY]
        store = gw.pipeline.responses
        response_id = request.match_info["id"]
        try:
            headers = check_headers(request, gw.config.http_server)
            gw.policies.identify(headers, request.remote, normalise_path(request.raw_path))
            stored = await store.get(response_id) if store is not None else None
            if store is None or stored is None:
                if _upstream_has_responses(gw):
                    return await proxy(request)
                raise NotFound(f"Response with id '{response_id}' not found.")
            if request.method == "DELETE":
                await store.delete(response_id)
                body = msgspec.json.encode({"id": response_id, "object": "response.deleted", "deleted": True})
                return web.Response(body=body, content_type="application/json")
            return web.Response(body=stored.response, content_type="application/json")
        except LunaRouteError as exc:
            return web.Response(status=exc.status, body=error_body("openai", exc), headers=error_headers(exc))

    for path in ("/v1/responses/{id}", "/responses/{id}"):
        app.router.add_route("GET", path, host_checked(handle, hosts))
        app.router.add_route("DELETE", path, host_checked(handle, hosts))
