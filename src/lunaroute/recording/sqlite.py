"""The SQLite session writer (schema v5, interchangeable with the Rust LunaRoute `sessions.db`).

Why a writer thread and the stdlib `sqlite3` rather than aiosqlite: aiosqlite is itself one thread per
connection behind a queue; owning that thread directly gives the same non-blocking behaviour without a
dependency, lets one blocking function run a whole batch (BEGIN, every statement, COMMIT) per hop to the
thread instead of one hop per statement, and keeps the PRAGMAs and transaction control explicit.

The connection lives in one dedicated thread and is only touched there. It runs in WAL mode with
`busy_timeout` (several processes may write one file) and foreign keys on; `synchronous` is `normal`
(committed batches survive a process crash; the last ones may roll back on a power loss) or `full` (they
also survive a power loss). Each `write_batch` is one `BEGIN IMMEDIATE … COMMIT` transaction; see
`_sqlite_rules` for what each event writes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

from lunaroute.recording._fsio import FILE_MODE, ensure_dir
from lunaroute.recording._sqlite_rules import Batch, apply_event, prepare
from lunaroute.recording._sqlite_schema import ensure_schema
from lunaroute.recording.codec import DEFAULT_MAX_FIELD_CHARS
from lunaroute.recording.events import SessionEvent, is_valid_session_id

__all__ = ["SqliteWriter", "Synchronous"]

_log = logging.getLogger("lunaroute.recording.sqlite")
_sql_log = logging.getLogger("lunaroute.sql")
_T = TypeVar("_T")

Synchronous = Literal["normal", "full"]
_READABLE_PRAGMAS = frozenset({"synchronous", "journal_mode", "busy_timeout", "foreign_keys", "user_version"})


class SqliteWriter:
    """A `SessionWriter` into one SQLite database file. Create it with `await SqliteWriter.open(path)`."""

    name = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Synchronous = "normal",
        busy_timeout_ms: int = 5000,
        max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
        log_sql: bool = False,
    ) -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self.path = path
        self.synchronous: Synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self._max_field_chars = max_field_chars
        self._log_sql = log_sql
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lunaroute-sqlite")
        self._conn: sqlite3.Connection | None = None
        self.migrated_from: int | None = None

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: Synchronous = "normal",
        busy_timeout_ms: int = 5000,
        max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
        log_sql: bool = False,
    ) -> SqliteWriter:
        """Open (creating or migrating) the database at `path`; the file is created 0600, its dir 0700.
        `log_sql` logs every statement on logger `lunaroute.sql` (`logging.log_sql_queries`)."""
        writer = cls(
            path,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            max_field_chars=max_field_chars,
            log_sql=log_sql,
        )
        try:
            writer.migrated_from = await writer._call(writer._open_sync)
        except BaseException:
            writer._executor.shutdown(wait=False)
            raise
        return writer

    async def _call(self, fn: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _open_sync(self) -> int:
        ensure_dir(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
            os.chmod(self.path, FILE_MODE)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000.0)
        if self._log_sql:
            conn.set_trace_callback(_sql_log.info)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys = ON")
            migrated_from = ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return migrated_from

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SqliteWriter is not open (use `await SqliteWriter.open(path)`)")
        return self._conn

    async def write_batch(self, events: Sequence[SessionEvent]) -> None:
        """Apply `events` in one transaction; raises `sqlite3.Error` / `OSError` when the database fails."""
        await self._call(self._write_sync, list(events))

    def _write_sync(self, events: list[SessionEvent]) -> None:
        conn = self._live()
        conn.execute("BEGIN IMMEDIATE")
        batch = Batch(conn, self._max_field_chars)
        try:
            prepare(batch, events)
            for ev in events:
                if not is_valid_session_id(ev.session_id):
                    _log.error("sqlite: event with invalid session id %r not written", ev.session_id[:64])
                    continue
                apply_event(batch, ev)
            batch.finish()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def flush(self) -> None:
        """Every batch is committed when `write_batch` returns; nothing is buffered here."""

    async def close(self) -> None:
        if self._conn is not None:
            await self._call(self._close_sync)
        self._executor.shutdown(wait=True)

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.execute("PRAGMA optimize")
            conn.close()

    async def pragma(self, name: str) -> object:
        """The value of a read-only PRAGMA on the live connection (`synchronous`, `journal_mode`, ...)."""
        if name not in _READABLE_PRAGMAS:
            raise ValueError(f"pragma {name!r} is not readable here")
        return await self._call(lambda: self._live().execute(f"PRAGMA {name}").fetchone()[0])

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run a read query on the writer's connection (for tests and tools); parameters are bound."""
        return await self._call(lambda: list(self._live().execute(sql, tuple(params)).fetchall()))
