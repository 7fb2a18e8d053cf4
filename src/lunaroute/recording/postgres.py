"""The PostgreSQL session writer: an asyncpg pool, one transaction per batch, the SQLite write rules.

Use it when several gateway replicas share one session store. `synchronous_commit` stays at the server
default (`on`): a batch that `write_batch` reported written survives a server crash.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from lunaroute.recording._pg_rollup import COMPACT_SQL
from lunaroute.recording._pg_rules import apply_event
from lunaroute.recording._pg_schema import migrate
from lunaroute.recording.codec import DEFAULT_MAX_FIELD_CHARS, sanitize_event
from lunaroute.recording.events import SessionEvent, is_valid_session_id

__all__ = ["PostgresWriter"]

_log = logging.getLogger("lunaroute.recording.postgres")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
COMPACT_INTERVAL_S = 5.0
"""How often (at most) a writer folds the rollup deltas into the rollups after a batch (`_pg_rollup`)."""


class PostgresWriter:
    """A `SessionWriter` into PostgreSQL. Create it with `await PostgresWriter.open(dsn)`.

    `schema` (optional) puts the tables in that schema, created if missing, instead of the `search_path`
    default.
    """

    name = "postgres"

    def __init__(
        self, pool: Any, *, schema: str | None, max_field_chars: int, max_lifetime_s: float | None = None
    ) -> None:
        self._pool = pool
        self.schema = schema
        self._max_field_chars = max_field_chars
        self._max_lifetime_s = max_lifetime_s
        self._first_seen: dict[int, float] = {}
        self.connections_retired = 0
        self.migrations_applied: list[int] = []
        self._compacted_at = time.monotonic()

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        min_connections: int = 1,
        max_connections: int = 5,
        acquire_timeout_s: float = 30.0,
        max_inactive_connection_lifetime_s: float = 600.0,
        max_lifetime_s: float | None = None,
        max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
    ) -> PostgresWriter:
        """Connect, create the schema if asked, apply the migrations. A connection older than `max_lifetime_s`
        is closed after the batch it served, and the pool opens a fresh one for the next."""
        settings: dict[str, str] = {"application_name": "lunaroute-recorder"}
        if schema is not None:
            if not _IDENT.fullmatch(schema):
                raise ValueError(f"invalid schema name {schema!r}")
            conn = await asyncpg.connect(dsn, timeout=acquire_timeout_s)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
            settings["search_path"] = schema
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_connections,
            max_size=max_connections,
            timeout=acquire_timeout_s,
            max_inactive_connection_lifetime=max_inactive_connection_lifetime_s,
            server_settings=settings,
        )
        writer = cls(pool, schema=schema, max_field_chars=max_field_chars, max_lifetime_s=max_lifetime_s)
        try:
            async with pool.acquire() as conn:
                writer.migrations_applied = await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return writer

    async def write_batch(self, events: Sequence[SessionEvent]) -> None:
        """Apply `events` in one transaction; raises asyncpg / OS errors when the server fails."""
        clean = [sanitize_event(ev, self._max_field_chars) for ev in events]
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                for ev in clean:
                    if not is_valid_session_id(ev.session_id):
                        _log.error("postgres: event with invalid session id %r not written", ev.session_id[:64])
                        continue
                    await apply_event(conn, ev)
            if time.monotonic() - self._compacted_at >= COMPACT_INTERVAL_S:
                await self._compact(conn)
            self._retire_if_old(conn)

    async def _compact(self, conn: Any) -> None:
        """Fold the rollup deltas of every replica into the rollups, in a transaction of its own. A failure is
        logged, not raised: the batch is written, and the deltas stay (readers add them) for the next try."""
        self._compacted_at = time.monotonic()
        try:
            await conn.execute(COMPACT_SQL)
        except asyncpg.PostgresError as exc:
            _log.warning("postgres: compacting the rollups failed (will retry): %r", exc)

    async def compact(self) -> None:
        """Fold the rollup deltas into the rollups now (tools and tests; the writer does it every few seconds)."""
        async with self._pool.acquire() as conn:
            await self._compact(conn)

    def _retire_if_old(self, conn: Any) -> None:
        """`max_lifetime_seconds`: a connection first used longer ago than that is closed before it goes back to
        the pool (asyncpg's pool opens a new one on the next acquire)."""
        if self._max_lifetime_s is None:
            return
        pid = conn.get_server_pid()
        now = time.monotonic()
        born = self._first_seen.setdefault(pid, now)
        if now - born >= self._max_lifetime_s:
            del self._first_seen[pid]
            self.connections_retired += 1
            conn.terminate()

    async def flush(self) -> None:
        """Every batch is committed (synchronous_commit on) when `write_batch` returns."""

    async def close(self) -> None:
        await self._pool.close()

    async def delete_session(self, session_id: str) -> bool:
        """Delete the session; its rows in the other tables go with it (ON DELETE CASCADE). False when absent."""
        if not is_valid_session_id(session_id):
            return False
        async with self._pool.acquire() as conn:
            status = await conn.execute("DELETE FROM sessions WHERE session_id = $1", session_id)
        return bool(status != "DELETE 0")

    async def fetch(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Run a read query (for tests and tools); parameters are bound."""
        async with self._pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
