"""`SqliteSessionStore`: the `SessionStore` over a schema-v5 `sessions.db` (ours or the Rust LunaRoute's).

Reads go through read-only connections in worker threads (`_sqlite_conn.ReadPool`), so a running gateway's
writer is never blocked for longer than one read transaction and the event loop never at all. The database
may not exist yet: every call then raises `StoreUnavailable`, and succeeds once the writer has created it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

from lunaroute.recording.events import is_valid_session_id, utcnow
from lunaroute.recording.query import _sqlite_sessions as _sessions
from lunaroute.recording.query import _sqlite_stats as _stats
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
from lunaroute.recording.query._sql import clamp_page
from lunaroute.recording.query._sqlite_conn import ReadPool
from lunaroute.recording.query._sqlite_keys import key_usage as _key_usage

__all__ = ["SqliteSessionStore"]

_CHILD_TABLES = ("session_stats", "tool_stats", "tool_call_executions", "stream_metrics")
_MAX_HOURS = 24 * 366 * 10


def _hours(value: int) -> int:
    return min(max(1, value), _MAX_HOURS)


class SqliteSessionStore:
    """A `SessionStore` reading the SQLite database at `path`.

    `price` prices tokens (see `PriceFn`); `clock` returns the current UTC time (the end of every window).
    """

    def __init__(
        self,
        path: Path,
        *,
        price: PriceFn | None = None,
        workers: int = 2,
        busy_timeout_ms: int = 5000,
        clock: Callable[[], dt.datetime] = utcnow,
        log_sql: bool = False,
    ) -> None:
        self.path = path
        self._price = price
        self._clock = clock
        self._pool = ReadPool(path, workers=workers, busy_timeout_ms=busy_timeout_ms, log_sql=log_sql)

    @property
    def read_connections(self) -> int:
        """SQLite connections opened for reading so far (at most `workers`)."""
        return self._pool.connections

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
        return await self._pool.run(lambda c: _sessions.list_sessions(c, flt, offset, limit, price, sort, descending))

    async def get_session(self, session_id: str) -> SessionDetail | None:
        if not is_valid_session_id(session_id):
            return None
        price = self._price
        return await self._pool.run(lambda c: _sessions.get_session(c, session_id, price))

    async def timeline(
        self, session_id: str, *, offset: int = 0, limit: int = 20, order: Order = "asc"
    ) -> TimelinePage | None:
        if not is_valid_session_id(session_id):
            return None
        offset, limit = clamp_page(offset, limit)
        direction: Order = "desc" if order == "desc" else "asc"
        return await self._pool.run(lambda c: _sessions.timeline(c, session_id, offset, limit, direction))

    async def session_tools(self, session_id: str) -> SessionToolStats | None:
        if not is_valid_session_id(session_id):
            return None
        return await self._pool.run(lambda c: _sessions.session_tools(c, session_id))

    async def overview(self, hours: int = 24) -> OverviewStats:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._pool.run(lambda c: _stats.overview(c, hours, now, price))

    async def tokens_per_day(self, days: int = 7) -> tuple[TokensPerDay, ...]:
        days, now = min(max(1, days), _MAX_HOURS // 24), self._clock()
        return await self._pool.run(lambda c: _stats.tokens_per_day(c, days, now))

    async def tool_usage(self, limit: int = 50) -> tuple[ToolUsage, ...]:
        _, limit = clamp_page(0, limit)
        return await self._pool.run(lambda c: _stats.tool_usage(c, limit))

    async def model_usage(self, hours: int = 24, user_agent: str | None = None) -> tuple[ModelUsage, ...]:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._pool.run(lambda c: _stats.model_usage(c, hours, user_agent, now, price))

    async def client_usage(self, hours: int = 24, limit: int = 10) -> tuple[ClientUsage, ...]:
        hours, now, price = _hours(hours), self._clock(), self._price
        _, limit = clamp_page(0, limit)
        return await self._pool.run(lambda c: _stats.client_usage(c, hours, limit, now, price))

    async def key_usage(self, hours: int = 24) -> tuple[KeyUsage, ...]:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._pool.run(lambda c: _key_usage(c, hours, now, price))

    async def cost_stats(self) -> CostStats:
        now, price = self._clock(), self._price
        return await self._pool.run(lambda c: _stats.cost_stats(c, now, price))

    async def spending(self, hours: int = 24) -> SpendingStats:
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._pool.run(lambda c: _stats.spending(c, hours, now, price))

    async def latency_by_model(self, hours: int = 24) -> tuple[ModelLatency, ...]:
        hours, now = _hours(hours), self._clock()
        return await self._pool.run(lambda c: _stats.latency_by_model(c, hours, now))

    async def errors_by_status(self, hours: int = 24) -> tuple[StatusCount, ...]:
        hours, now = _hours(hours), self._clock()
        return await self._pool.run(lambda c: _stats.errors_by_status(c, hours, now))

    async def activity(self, hours: int = 1, minutes: int = 1) -> tuple[ActivityBucket, ...]:
        if minutes < 1 or 60 % minutes:
            raise ValueError("minutes must divide 60")
        hours, now, price = _hours(hours), self._clock(), self._price
        return await self._pool.run(lambda c: _stats.activity(c, hours, minutes, now, price))

    async def hours_of_day(self, hours: int = 24 * 7) -> tuple[HourOfDay, ...]:
        hours, now = _hours(hours), self._clock()
        return await self._pool.run(lambda c: _stats.hours_of_day(c, hours, now))

    async def user_agents(self) -> tuple[str, ...]:
        return await self._pool.run(_stats.user_agents)

    async def models(self) -> tuple[str, ...]:
        return await self._pool.run(_stats.model_names)

    async def delete_session(self, session_id: str) -> bool:
        if not is_valid_session_id(session_id):
            return False

        def delete(conn: sqlite3.Connection) -> bool:
            for table in _CHILD_TABLES:  # explicit: foreign keys may be off in a Rust-written database
                conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
            return conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount > 0

        return await self._pool.write(delete)

    async def close(self) -> None:
        await self._pool.close()
