"""The PostgreSQL response store, shared by every gateway replica: an asyncpg pool and one table."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ._store import DDL, TABLE, StoredResponse

__all__ = ["PostgresResponseStore"]


class PostgresResponseStore:
    """A `ResponseStore` in PostgreSQL. Create it with `await PostgresResponseStore.open(dsn)`."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str) -> PostgresResponseStore:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=4, timeout=10, server_settings={"application_name": "lunaroute-responses"}
        )
        try:
            async with pool.acquire() as conn:
                await conn.execute(DDL)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def put(self, stored: StoredResponse) -> None:
        await self._pool.execute(
            f"INSERT INTO {TABLE} (id, created_at, input, response) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id) DO UPDATE SET created_at = $2, input = $3, response = $4",
            stored.id,
            stored.created_at,
            stored.input,
            stored.response,
        )

    async def get(self, response_id: str) -> StoredResponse | None:
        row = await self._pool.fetchrow(
            f"SELECT id, created_at, input, response FROM {TABLE} WHERE id = $1", response_id
        )
        if row is None:
            return None
        return StoredResponse(id=row[0], created_at=row[1], input=bytes(row[2]), response=bytes(row[3]))

    async def delete(self, response_id: str) -> bool:
        status: str = await self._pool.execute(f"DELETE FROM {TABLE} WHERE id = $1", response_id)
        return status.endswith(" 1")

    async def aclose(self) -> None:
        await self._pool.close()
