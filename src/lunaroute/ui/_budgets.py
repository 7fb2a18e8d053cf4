"""`GET /api/budgets` on the UI listener: each key's and team's budget against its spend in the current period.

The key store (`auth.database`) is opened on the first request and closed with the application; without
`auth.mode: keys` the list is empty.
"""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from lunaroute.config import Config
from lunaroute.keys import KeyStore, budget_statuses, open_key_store

__all__ = ["add_budget_api"]

_encode = msgspec.json.Encoder().encode


class _Store:
    """The key store, opened once, on first use."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._store: KeyStore | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> KeyStore:
        async with self._lock:
            if self._store is None:
                self._store = await open_key_store(self._url)
            return self._store

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.aclose()


def add_budget_api(app: web.Application, config: Config) -> None:
    """Register `/api/budgets` on `app` (the UI's API application)."""
    url = config.auth.database if config.auth.mode == "keys" else None
    holder = _Store(url) if url else None

    async def budgets(request: web.Request) -> web.Response:
        if holder is None:
            return web.Response(body=b"[]", content_type="application/json")
        try:
            store = await holder.get()
            statuses = await budget_statuses(store, config.teams)
        except (OSError, RuntimeError) as exc:
            return web.Response(
                status=503,
                body=_encode({"error": {"status": 503, "message": f"the key store cannot be read: {exc}"}}),
                content_type="application/json",
            )
        return web.Response(body=_encode(statuses), content_type="application/json")

    async def close(_: web.Application) -> None:
        if holder is not None:
            await holder.aclose()

    app.router.add_get("/api/budgets", budgets)
    app.on_cleanup.append(close)
