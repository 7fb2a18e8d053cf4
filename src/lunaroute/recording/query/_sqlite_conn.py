"""Read-only SQLite connections served from worker threads, so queries never block the event loop.

Connections are opened `mode=ro` through a `file:` URI (the path percent-encoded, so no character of it can
add URI parameters), with `busy_timeout` and `query_only` set; each is used by one thread at a time, taken
from and returned to an idle queue. The one write (deleting a session) opens its own short-lived connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from lunaroute.recording.query._store import StoreUnavailable

__all__ = ["ReadPool"]

_T = TypeVar("_T")
_sql_log = logging.getLogger("lunaroute.sql")


class ReadPool:
    """Up to `workers` read-only connections to the database at `path`, used from as many threads."""

    def __init__(self, path: Path, *, workers: int = 2, busy_timeout_ms: int = 5000, log_sql: bool = False) -> None:
        self.path = path
        self._log_sql = log_sql
        self.busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lunaroute-query")
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _uri(self, mode: str) -> str:
        return f"{self.path.absolute().as_uri()}?mode={mode}"

    def _connect(self, mode: str) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreUnavailable(f"no session database at {self.path}")
        try:
            conn = sqlite3.connect(
                self._uri(mode),
                uri=True,
                timeout=self.busy_timeout_ms / 1000.0,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        if self._log_sql:
            conn.set_trace_callback(_sql_log.info)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if mode == "ro":
                conn.execute("PRAGMA query_only = 1")
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreUnavailable(f"cannot read {self.path}: {exc}") from exc
        if found is None:
            conn.close()
            raise StoreUnavailable(f"{self.path} is not a session database (no `sessions` table)")
        return conn

    @property
    def connections(self) -> int:
        """Connections opened so far (at most `workers`: one per thread that has run a query)."""
        with self._lock:
            return len(self._all)

    def _with_conn(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect("ro")
            with self._lock:
                self._all.append(conn)
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"reading {self.path} failed: {exc}") from exc
        finally:
            self._idle.put(conn)

    def _with_writer(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        conn = self._connect("rw")
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result
        finally:
            conn.close()

    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `fn(conn)` on a read-only connection in a worker thread."""
        if self._closed:
            raise StoreUnavailable("the session store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._with_conn, fn))

    async def write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `fn(conn)` in one `BEGIN IMMEDIATE` transaction on a fresh read-write connection."""
        if self._closed:
            raise StoreUnavailable("the session store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._with_writer, fn))

    def _close_sync(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    async def close(self) -> None:
        """Close every connection and stop the threads (waits for running queries)."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self._close_sync()
