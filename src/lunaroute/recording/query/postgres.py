"""`PostgresSessionStore`: the `SessionStore` over the PostgreSQL session schema the replicas write.

With N gateway replicas recording into one PostgreSQL database (`session_recording.postgres`), this is the
one place to read them: the UI (`ui.database`), `lunaroute ui` and `lunaroute sessions --db postgresql://…`
use it. Its answers equal `SqliteSessionStore`'s for the same recorded sessions (see `_pg_sql`).

The asyncpg pool is opened on first use, so a store can be built before the server is reachable: until it
is, and while the tables do not exist, every call raises `StoreUnavailable`. Connections are read-only by
default (`default_transaction_read_only`); the one write (deleting a session) asks for a read-write
transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from lunaroute.recording.events import is_valid_session_id, utcnow
from lunaroute.recording.query import _pg_sessions as _sessions
from lunaroute.recording.query import _pg_stats as _stats
from lunaroute.recording.query._models import (
    ActivityBucket,
    ClientUsage,
    CostStats,
    HourOfDay,
    KeyUsage,
    ModelLatency,
    ModelUsage,
    Order,
    OverviewStats,
    PriceFn,
    SessionDetail,
    SessionFilter,
    SessionPage,
    SessionToolStats,
    SortKey,
    SpendingStats,
    StatusCount,
    TimelinePage,
    TokensPerDay,
    ToolUsage,
)
from lunaroute.recording.query._pg_keys import key_usage as _key_usage
from lunaroute.recording.query._sql import clamp_page
from lunaroute.recording.query._store import StoreUnavailable

__all__ = ["PostgresSessionStore", "is_postgres_url"]

_T = TypeVar("_T")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MAX_HOURS = 24 * 366 * 10
_UNREADABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,  # 08: the connection failed or was lost
    asyncpg.InvalidAuthorizationSpecificationError,  # 28: unknown role, wrong password
    asyncpg.InvalidCatalogNameError,  # 3D000: no such database
    asyncpg.InsufficientPrivilegeError,  # 42501: the role may not read the tables
    asyncpg.OperatorInterventionError,  # 57: the server is shutting down or starting
)
"""Errors that mean the store cannot be read (`StoreUnavailable`, a 503), not a fault of the query (a 500)."""


def is_postgres_url(value: str) -> bool:
    """Whether `value` names a PostgreSQL database (`postgresql://…` or `postgres://…`)."""
    return value.startswith(("postgresql://", "postgres://"))


def _hours(value: int) -> int:
    return min(max(1, value), _MAX_HOURS)


def _redacted(dsn: str) -> str:
    """`dsn` without its password, for messages."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", dsn)


class PostgresSessionStore:
    """A `SessionStore` reading the session tables at `dsn` (in `schema` when given, else the `search_path`).

    `price` prices tokens (see `PriceFn`); `clock` returns the current UTC time (the end of every window);
    at most `max_connections` queries run at once.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        price: PriceFn | None = None,
        max_connections: int = 4,
        connect_timeout_s: float = 10.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if schema is not None and not _IDENT.fullmatch(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self._price = price
        self._clock = clock
        self._max_connections = max(1, max_connections)
        self._timeout = connect_timeout_s
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def _get_pool(self) -> Any:
        if self._closed:
            raise StoreUnavailable("the session store is closed")
        async with self._opening:
            if self._pool is None:
                settings = {
                    "application_name": "lunaroute-ui",
                    "TimeZone": "UTC",
                    "default_transaction_read_only": "on",
                }
                if self.schema is not None:
                    settings["search_path"] = self.schema
                try:
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=0,
                        max_size=self._max_connections,
                        timeout=self._timeout,
                        server_settings=settings,
                    )
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    raise StoreUnavailable(f"cannot connect to {_redacted(self.dsn)}: {exc}") from exc
            return self._pool

    async def _run(self, fn: Callable[[Any], Awaitable[_T]], *, write: bool = False) -> _T:
        pool = await self._get_pool()
        try:
            async with (
                pool.acquire(timeout=self._timeout) as conn,
                conn.transaction(isolation="repeatable_read", readonly=not write),
            ):
                if write:
                    await conn.execute("SET TRANSACTION READ WRITE")
                return await fn(conn)
        except asyncpg.UndefinedTableError as exc:
            raise StoreUnavailable(f"{_redacted(self.dsn)} holds no session tables ({exc})") from exc
        except _UNREADABLE as exc:
            raise StoreUnavailable(f"reading {_redacted(self.dsn)} failed: {exc}") from exc

    async def list_sessions(
        self,
        flt: SessionFilter,
        *,
        offset: int = 0,
        limit: int = 50,
        sort: SortKey = "started",
        descending: bool = True,
    ) -> SessionPage:
        offset, limit = clamp_page(offset, limit)
        price = self._price
        return await self._run(lambda c: _sessions.list_sessions(c, flt, offset, limit, price, sort, descending))

    async def get_session(self, session_id: str) -> SessionDetail | None:
        if not is_valid_session_id(session_id):
            return None
        price = self._price
        return await self._run(lambda c: _sessions.get_session(c, session_id, price))

    async def timeline(
        self, session_id: str, *, offset: int = 0, limit: int = 20, order: Order = "asc"
    ) -> TimelinePage | None:
        if not is_valid_session_id(session_id):
            return None
        offset, limit = clamp_page(offset, limit)
        direction: Order = "desc" if order == "desc" else "asc"
        return await self._run(lambda c: _sessions.timeline(c, session_id, offset, limit, direction))

    async def session_tools(self, session_id: str) -> SessionToolStats | None:
        if not is_valid_session_id(session_id):
            return None
        return await self._run(lambda c: _sessions.session_tools(c, session_id))

    async def overview(self, hours: int = 24) -> OverviewStats:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._run(lambda c: _stats.overview(c, hours, now, price))

    async def tokens_per_day(self, days: int = 7) -> tuple[TokensPerDay, ...]:
        days, now = min(max(1, days), _MAX_HOURS // 24), self._clock()
        return await self._run(lambda c: _stats.tokens_per_day(c, days, now))

    async def tool_usage(self, limit: int = 50) -> tuple[ToolUsage, ...]:
        _, limit = clamp_page(0, limit)
        return await self._run(lambda c: _stats.tool_usage(c, limit))

    async def model_usage(self, hours: int = 24, user_agent: str | None = None) -> tuple[ModelUsage, ...]:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._run(lambda c: _stats.model_usage(c, hours, user_agent, now, price))

    async def client_usage(self, hours: int = 24, limit: int = 10) -> tuple[ClientUsage, ...]:
        hours, now, price = _hours(hours), self._clock(), self._price
        _, limit = clamp_page(0, limit)
        return await self._run(lambda c: _stats.client_usage(c, hours, limit, now, price))

    async def key_usage(self, hours: int = 24) -> tuple[KeyUsage, ...]:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._run(lambda c: _key_usage(c, hours, now, price))

    async def cost_stats(self) -> CostStats:
        now, price = self._clock(), self._price
        return await self._run(lambda c: _stats.cost_stats(c, now, price))

    async def spending(self, hours: int = 24) -> SpendingStats:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._run(lambda c: _stats.spending(c, hours, now, price))

    async def latency_by_model(self, hours: int = 24) -> tuple[ModelLatency, ...]:
        hours, now = _hours(hours), self._clock()
        return await self._run(lambda c: _stats.latency_by_model(c, hours, now))

    async def errors_by_status(self, hours: int = 24) -> tuple[StatusCount, ...]:
        hours, now = _hours(hours), self._clock()
        return await self._run(lambda c: _stats.errors_by_status(c, hours, now))

    async def activity(self, hours: int = 1, minutes: int = 1) -> tuple[ActivityBucket, ...]:
        if minutes < 1 or 60 % minutes:
            raise ValueError("minutes must divide 60")
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._run(lambda c: _stats.activity(c, hours, minutes, now, price))

    async def hours_of_day(self, hours: int = 24 * 7) -> tuple[HourOfDay, ...]:
        hours, now = _hours(hours), self._clock()
        return await self._run(lambda c: _stats.hours_of_day(c, hours, now))

    async def user_agents(self) -> tuple[str, ...]:
        return await self._run(_stats.user_agents)

    async def models(self) -> tuple[str, ...]:
        return await self._run(_stats.model_names)

    async def delete_session(self, session_id: str) -> bool:
        """Delete the session; its child rows go with it (`ON DELETE CASCADE`)."""
        if not is_valid_session_id(session_id):
            return False

        async def delete(conn: Any) -> bool:
            status = await conn.execute("DELETE FROM sessions WHERE session_id = $1", session_id)
            return str(status) != "DELETE 0"

        return await self._run(delete, write=True)

    async def close(self) -> None:
        """Close the pool (waits for running queries)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
