"""The `ResponseStore` Protocol, its record, and the choice of backend."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

__all__ = ["LazyResponseStore", "ResponseStore", "StoredResponse", "open_response_store"]

TABLE = "lunaroute_responses"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " id TEXT PRIMARY KEY,"
    " created_at BIGINT NOT NULL,"
    " input BYTEA NOT NULL,"
    " response BYTEA NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One served response: `input` is the JSON array of every input item it answered, `response` the JSON
    `response` object the client received (with its `output`)."""

    id: str
    created_at: int
    input: bytes
    response: bytes


class ResponseStore(Protocol):
    """Where served responses are kept; every method may be called from the event loop at any time."""

    async def put(self, stored: StoredResponse) -> None:
        """Keep `stored` (replacing one with the same id)."""
        ...

    async def get(self, response_id: str) -> StoredResponse | None:
        """The response with this id, or None."""
        ...

    async def delete(self, response_id: str) -> bool:
        """Forget the response; whether there was one."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once at shutdown."""
        ...


async def open_response_store(url: str) -> ResponseStore:
    """A connected store: `postgresql://…` (or `postgres://…`) for PostgreSQL, else a SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresResponseStore

        return await PostgresResponseStore.open(url)
    from ._sqlite import SqliteResponseStore

    return await SqliteResponseStore.open(url)


class LazyResponseStore:
    """A `ResponseStore` that connects to `url` on first use, so a gateway that never serves a translated
    response creates no database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: ResponseStore | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> ResponseStore:
        if self._store is None:
            async with self._lock:
                if self._store is None:
                    self._store = await open_response_store(self.url)
        return self._store

    async def put(self, stored: StoredResponse) -> None:
        await (await self._open()).put(stored)

    async def get(self, response_id: str) -> StoredResponse | None:
        return await (await self._open()).get(response_id)

    async def delete(self, response_id: str) -> bool:
        return await (await self._open()).delete(response_id)

    async def aclose(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await store.aclose()
