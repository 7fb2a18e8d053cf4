"""The SQLite key store: one WAL file, one connection used from worker threads under a lock.

Writers take `BEGIN IMMEDIATE`, so the version each change takes (the largest so far plus one) is never taken
twice, also when the CLI and a running gateway write the same file.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from lunaroute.keys._ledger import HOLD_S, BudgetLine
from lunaroute.keys._record import KeyRecord
from lunaroute.keys._store import (
    COLUMNS,
    HOLDS,
    SPEND,
    TABLE,
    StoredKey,
    encode_field,
    record_from_row,
    row_values,
    schema_ddl,
)

__all__ = ["SqliteKeyStore"]

_T = TypeVar("_T")

_DDL = schema_ddl(real="REAL", big="INTEGER")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
_UPDATABLE = frozenset(COLUMNS) - {"id", "version", "created_at", "last_used_at"}


class SqliteKeyStore:
    """A `KeyStore` in a SQLite file (created with mode 0600 if missing)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteKeyStore:
        return await asyncio.to_thread(cls.open_sync, path)

    @classmethod
    def open_sync(cls, path: str) -> SqliteKeyStore:
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        if not file.exists():
            os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False, timeout=10.0)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 10000")
        for ddl in _DDL:
            conn.execute(ddl)
        return cls(conn)

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                return fn(self._conn)

        return await asyncio.to_thread(locked)

    async def insert(self, record: KeyRecord, digest: str) -> KeyRecord:
        def work(conn: sqlite3.Connection) -> KeyRecord:
            with _write(conn):
                record.version = _next_version(conn)
                marks = ", ".join("?" for _ in COLUMNS)
                conn.execute(
                    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})", row_values(record, digest, None)
                )
            return record

        return await self._run(work)

    async def get(self, key_id: str) -> KeyRecord | None:
        def work(conn: sqlite3.Connection) -> KeyRecord | None:
            row = conn.execute(f"{_SELECT} WHERE id = ?", (key_id,)).fetchone()
            return None if row is None else record_from_row(row).record

        return await self._run(work)

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        def work(conn: sqlite3.Connection) -> list[KeyRecord]:
            if team is None:
                rows = conn.execute(f"{_SELECT} ORDER BY created_at, id").fetchall()
            else:
                rows = conn.execute(f"{_SELECT} WHERE team = ? ORDER BY created_at, id", (team,)).fetchall()
            return [record_from_row(row).record for row in rows]

        return await self._run(work)

    async def update(self, key_id: str, fields: Mapping[str, object]) -> KeyRecord | None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")

        def work(conn: sqlite3.Connection) -> KeyRecord | None:
            with _write(conn):
                if conn.execute(f"SELECT 1 FROM {TABLE} WHERE id = ?", (key_id,)).fetchone() is None:
                    return None
                names = [*fields, "version"]
                values = [encode_field(n, v) for n, v in fields.items()] + [_next_version(conn)]
                assignments = ", ".join(f"{name} = ?" for name in names)
                conn.execute(f"UPDATE {TABLE} SET {assignments} WHERE id = ?", [*values, key_id])
                row = conn.execute(f"{_SELECT} WHERE id = ?", (key_id,)).fetchone()
            return record_from_row(row).record

        return await self._run(work)

    async def changes_since(self, version: int) -> list[StoredKey]:
        def work(conn: sqlite3.Connection) -> list[StoredKey]:
            rows = conn.execute(f"{_SELECT} WHERE version > ? ORDER BY version", (version,)).fetchall()
            return [record_from_row(row) for row in rows]

        return await self._run(work)

    async def touch(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return

        def work(conn: sqlite3.Connection) -> None:
            with _write(conn):
                conn.executemany(
                    f"UPDATE {TABLE} SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
                    [(at, key_id) for key_id, at in last_used.items()],
                )

        await self._run(work)

    async def reserve(self, hold_id: str, lines: Sequence[BudgetLine], now: float) -> tuple[int | None, list[float]]:
        def work(conn: sqlite3.Connection) -> tuple[int | None, list[float]]:
            with _write(conn):
                left = [ln.budget_usd - sum(_spend(conn, ln.scope, ln.period, now)) for ln in lines]
                failed = next((i for i, ln in enumerate(lines) if ln.amount_usd > left[i]), None)
                if failed is not None:
                    return failed, left
                conn.executemany(
                    f"INSERT OR REPLACE INTO {HOLDS} (hold_id, scope, period, amount_usd, expires_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(hold_id, ln.scope, ln.period, ln.amount_usd, now + HOLD_S) for ln in lines],
                )
            return None, [budget_left - ln.amount_usd for budget_left, ln in zip(left, lines, strict=True)]

        return await self._run(work)

    async def settle(self, hold_id: str, spends: Sequence[tuple[str, str, float]], now: float) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with _write(conn):
                conn.execute(f"DELETE FROM {HOLDS} WHERE hold_id = ? OR expires_at <= ?", (hold_id, now))
                conn.executemany(
                    f"INSERT INTO {SPEND} (scope, period, spent_usd, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (scope, period) DO UPDATE SET spent_usd = spent_usd + excluded.spent_usd, "
                    "updated_at = excluded.updated_at",
                    [(scope, period, usd, now) for scope, period, usd in spends],
                )

        await self._run(work)

    async def spend(self, scope: str, period: str, now: float) -> tuple[float, float]:
        return await self._run(lambda conn: _spend(conn, scope, period, now))

    async def aclose(self) -> None:
        await self._run(lambda conn: conn.close())


class _write:
    """`BEGIN IMMEDIATE` … `COMMIT` (or `ROLLBACK` on any exception)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _spend(conn: sqlite3.Connection, scope: str, period: str, now: float) -> tuple[float, float]:
    row = conn.execute(f"SELECT spent_usd FROM {SPEND} WHERE scope = ? AND period = ?", (scope, period)).fetchone()
    (held,) = conn.execute(
        f"SELECT COALESCE(SUM(amount_usd), 0) FROM {HOLDS} WHERE scope = ? AND period = ? AND expires_at > ?",
        (scope, period, now),
    ).fetchone()
    return (float(row[0]) if row else 0.0), float(held)


def _next_version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute(f"SELECT COALESCE(MAX(version), 0) + 1 FROM {TABLE}").fetchone()
    return int(version)
