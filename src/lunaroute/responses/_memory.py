"""In-memory response stores: one WebSocket connection's own responses, and a store consulted after another."""

from __future__ import annotations

from ._store import ResponseStore, StoredResponse

__all__ = ["ChainedStore", "MemoryResponseStore"]


class MemoryResponseStore:
    """A `ResponseStore` in a dict, for the life of one connection (at most `limit` responses, oldest dropped)."""

    def __init__(self, limit: int = 64) -> None:
        self._items: dict[str, StoredResponse] = {}
        self._limit = limit

    async def put(self, stored: StoredResponse) -> None:
        self._items.pop(stored.id, None)
        self._items[stored.id] = stored
        while len(self._items) > self._limit:
            del self._items[next(iter(self._items))]

    async def get(self, response_id: str) -> StoredResponse | None:
        return self._items.get(response_id)

    async def delete(self, response_id: str) -> bool:
        return self._items.pop(response_id, None) is not None

    async def aclose(self) -> None:
        self._items.clear()


class ChainedStore:
    """Reads from `first`, then `second`; writes and deletes go to `first` only."""

    def __init__(self, first: ResponseStore, second: ResponseStore | None) -> None:
        self._first = first
        self._second = second

    async def put(self, stored: StoredResponse) -> None:
        await self._first.put(stored)

    async def get(self, response_id: str) -> StoredResponse | None:
        found = await self._first.get(response_id)
        if found is None and self._second is not None:
            found = await self._second.get(response_id)
        return found

    async def delete(self, response_id: str) -> bool:
        return await self._first.delete(response_id)

    async def aclose(self) -> None:
        await self._first.aclose()
