"""The PostgreSQL key store, shared by every gateway replica: an asyncpg pool and one table.

Writers hold a transaction-scoped advisory lock while they take a version from the table's sequence and commit,
so versions become visible in the order they were taken: a reader polling "changes since N" never sees version
N + 2 before N + 1 and so never skips a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

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

__all__ = ["PostgresKeyStore"]

_LOCK_ID = 0x4C52_4B45  # "LRKE": serialises key writers across replicas
_SEQUENCE = f"{TABLE}_version_seq"
_DDL = (f"CREATE SEQUENCE IF NOT EXISTS {_SEQUENCE}", *schema_ddl(real="DOUBLE PRECISION", big="BIGINT"))
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
_UPDATABLE = frozenset(COLUMNS) - {"id", "version", "created_at", "last_used_at"}


class PostgresKeyStore:
    """A `KeyStore` in PostgreSQL. Create it with `await PostgresKeyStore.open(dsn)`."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str) -> PostgresKeyStore:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=4, timeout=10, server_settings={"application_name": "lunaroute-keys"}
        )
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
                for ddl in _DDL:
                    await conn.execute(ddl)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def insert(self, record: KeyRecord, digest: str) -> KeyRecord:
        async with self._pool.acquire() as conn, conn.transaction():
            record.version = await _next_version(conn)
            marks = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
            await conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})", *row_values(record, digest, None)
            )
        return record

    async def get(self, key_id: str) -> KeyRecord | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(f"{_SELECT} WHERE id = $1", key_id)
        return None if row is None else record_from_row(tuple(row)).record

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        async with self._pool.acquire() as conn:
            if team is None:
                rows = await conn.fetch(f"{_SELECT} ORDER BY created_at, id")
            else:
                rows = await conn.fetch(f"{_SELECT} WHERE team = $1 ORDER BY created_at, id", team)
        return [record_from_row(tuple(row)).record for row in rows]

    async def update(self, key_id: str, fields: Mapping[str, object]) -> KeyRecord | None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        async with self._pool.acquire() as conn, conn.transaction():
            version = await _next_version(conn)
            names = [*fields, "version"]
            values = [encode_field(n, v) for n, v in fields.items()] + [version]
            assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=1))
            row = await conn.fetchrow(
                f"UPDATE {TABLE} SET {assignments} WHERE id = ${len(names) + 1} RETURNING {', '.join(COLUMNS)}",
                *values,
                key_id,
            )
        return None if row is None else record_from_row(tuple(row)).record

    async def changes_since(self, version: int) -> list[StoredKey]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(f"{_SELECT} WHERE version > $1 ORDER BY version", version)
        return [record_from_row(tuple(row)) for row in rows]

    async def touch(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return
        async with self._pool.acquire() as conn:
            await conn.executemany(
                f"UPDATE {TABLE} SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) WHERE id = $2",
                [(at, key_id) for key_id, at in last_used.items()],
            )

    async def reserve(self, hold_id: str, lines: Sequence[BudgetLine], now: float) -> tuple[int | None, list[float]]:
        async with self._pool.acquire() as conn, conn.transaction():
            # One lock per scope, taken in a fixed order: reservations of one scope are serialised across
            # replicas, and two requests sharing scopes cannot deadlock.
            for scope in sorted({line.scope for line in lines}):
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", scope)
            left = [ln.budget_usd - sum(await _spend(conn, ln.scope, ln.period, now)) for ln in lines]
            failed = next((i for i, ln in enumerate(lines) if ln.amount_usd > left[i]), None)
            if failed is not None:
                return failed, left
            await conn.executemany(
                f"INSERT INTO {HOLDS} (hold_id, scope, period, amount_usd, expires_at) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (hold_id, scope) DO UPDATE SET amount_usd = EXCLUDED.amount_usd",
                [(hold_id, ln.scope, ln.period, ln.amount_usd, now + HOLD_S) for ln in lines],
            )
        return None, [budget_left - ln.amount_usd for budget_left, ln in zip(left, lines, strict=True)]

    async def settle(self, hold_id: str, spends: Sequence[tuple[str, str, float]], now: float) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {HOLDS} WHERE hold_id = $1 OR expires_at <= $2", hold_id, now)
            await conn.executemany(
                f"INSERT INTO {SPEND} (scope, period, spent_usd, updated_at) VALUES ($1, $2, $3, $4) "
                f"ON CONFLICT (scope, period) DO UPDATE SET spent_usd = {SPEND}.spent_usd + EXCLUDED.spent_usd, "
                "updated_at = EXCLUDED.updated_at",
                [(scope, period, usd, now) for scope, period, usd in spends],
            )

    async def spend(self, scope: str, period: str, now: float) -> tuple[float, float]:
        async with self._pool.acquire() as conn:
            return await _spend(conn, scope, period, now)

    async def aclose(self) -> None:
        await self._pool.close()


async def _spend(conn: Any, scope: str, period: str, now: float) -> tuple[float, float]:
    """(spent, held) read in one statement, so both come from one snapshot: read apart, a settlement committed
    between the two reads (its hold deleted, its cost not yet seen in the spend) would count in neither."""
    row = await conn.fetchrow(
        f"SELECT (SELECT spent_usd FROM {SPEND} WHERE scope = $1 AND period = $2), "
        f"(SELECT COALESCE(SUM(amount_usd), 0) FROM {HOLDS} WHERE scope = $1 AND period = $2 AND expires_at > $3)",
        scope,
        period,
        now,
    )
    return float(row[0] or 0.0), float(row[1] or 0.0)


async def _next_version(conn: Any) -> int:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
    return int(await conn.fetchval(f"SELECT nextval('{_SEQUENCE}')"))
