"""A bare aiohttp reverse proxy, the floor to compare the gateway with: `bare_proxy.py PORT UPSTREAM_URL`."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web
from multidict import CIMultiDictProxy

_DROP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers"}
    | {"transfer-encoding", "upgrade", "host", "content-length"}
)
_SESSION = web.AppKey("session", aiohttp.ClientSession)


def _forward(headers: CIMultiDictProxy[str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k.lower() not in _DROP]


def make_app(upstream: str) -> web.Application:
    async def session(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
        app[_SESSION] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        yield
        await app[_SESSION].close()

    async def proxy(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        url = upstream + request.raw_path
        async with app[_SESSION].request(request.method, url, headers=_forward(request.headers), data=body) as up:
            response = web.StreamResponse(status=up.status, headers=_forward(up.headers))
            await response.prepare(request)
            async for chunk in up.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


if __name__ == "__main__":
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    web.run_app(make_app(upstream), host="127.0.0.1", port=port, access_log=None, loop=uvloop.new_event_loop())
