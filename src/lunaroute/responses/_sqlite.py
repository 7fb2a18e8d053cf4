"""The SQLite response store: one WAL file, one connection used from worker threads under a lock."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ._store import DDL, TABLE, StoredResponse

__all__ = ["SqliteResponseStore"]

_T = TypeVar("_T")


class SqliteResponseStore:
    """A `ResponseStore` in a SQLite file (created with mode 0600 if missing: it holds conversations)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteResponseStore:
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: str) -> SqliteResponseStore:
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        if not file.exists():
            os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False, timeout=10.0)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute(DDL.replace("BYTEA", "BLOB").replace("BIGINT", "INTEGER"))
        return cls(conn)

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                return fn(self._conn)

        return await asyncio.to_thread(locked)

    async def put(self, stored: StoredResponse) -> None:
        sql = f"INSERT OR REPLACE INTO {TABLE} (id, created_at, input, response) VALUES (?, ?, ?, ?)"
        values = (stored.id, stored.created_at, stored.input, stored.response)
        await self._run(lambda conn: conn.execute(sql, values))

    async def get(self, response_id: str) -> StoredResponse | None:
        sql = f"SELECT id, created_at, input, response FROM {TABLE} WHERE id = ?"
        row = await self._run(lambda conn: conn.execute(sql, (response_id,)).fetchone())
        if row is None:
            return None
        return StoredResponse(id=row[0], created_at=row[1], input=bytes(row[2]), response=bytes(row[3]))

    async def delete(self, response_id: str) -> bool:
        sql = f"DELETE FROM {TABLE} WHERE id = ?"
        cursor = await self._run(lambda conn: conn.execute(sql, (response_id,)))
        return cursor.rowcount > 0

    async def aclose(self) -> None:
        await self._run(lambda conn: conn.close())
