"""One SQLite write transaction's state (`Batch`) and the helpers every write rule shares: the placeholder
session row, integer clamping, timestamps."""

from __future__ import annotations

import functools
import sqlite3
from typing import overload

from lunaroute.recording._sqlite_merge import RowWrite, merge, new_row
from lunaroute.recording.codec import DEFAULT_MAX_FIELD_CHARS, sanitize_text
from lunaroute.recording.events import SessionEvent

__all__ = ["Batch"]

_I64_MAX = 2**63 - 1


def _i(value: int | None) -> int | None:
    """Clamp to SQLite's 64-bit integer range (a bigger count must not fail the batch)."""
    if value is None or -_I64_MAX <= value <= _I64_MAX:
        return value
    return _I64_MAX if value > 0 else -_I64_MAX


def _ts(event: SessionEvent) -> str:
    return event.timestamp.isoformat()


class Batch:
    """One transaction's state: which session rows exist or were created by it, which per-request rows it
    inserted, the `sessions` assignments still to be written (`later`), the new `session_stats` rows merged in
    memory (`merge_row`), and the text cap (`text`).

    Strings are stored as `sanitize_text` leaves them (see `lunaroute.recording.codec`); call `finish` before
    committing.
    """

    __slots__ = ("checked", "conn", "max_chars", "pending", "present", "rows", "sessions")

    def __init__(self, conn: sqlite3.Connection, max_chars: int = DEFAULT_MAX_FIELD_CHARS) -> None:
        self.conn = conn
        self.max_chars = max_chars
        self.sessions: set[str] = set()
        """Session rows known to exist in this transaction (saves no-op INSERTs)."""
        self.checked: set[tuple[str, str, str]] = set()
        """(table, session id, request id) of per-request rows whose existence is known: those in `present`."""
        self.present: set[tuple[str, str, str]] = set()
        self.pending: dict[str, dict[str, object]] = {}
        """Session id → column → value assigned by an event but not written yet."""
        self.rows: dict[tuple[str, str], dict[str, object]] = {}
        """(session id, request id) → the columns of a `session_stats` row this transaction creates, not inserted
        yet (see `lunaroute.recording._sqlite_merge`), in the order they were created."""

    @overload
    def text(self, value: str) -> str: ...
    @overload
    def text(self, value: str | None) -> str | None: ...
    def text(self, value: str | None) -> str | None:
        """`value` as stored: lone surrogates escaped, cut at `max_chars` (plain short text as it is)."""
        if value is None or (value.isascii() and len(value) <= self.max_chars):
            return value
        return sanitize_text(value, self.max_chars)

    def exists(self, key: tuple[str, str, str]) -> bool | None:
        """Whether the per-request row `key` (table, session id, request id) exists; None when not known."""
        return key in self.present if key in self.checked else None

    def later(self, session_id: str, values: dict[str, object]) -> None:
        """Assign `values` to the session's row with its next statement (a later assignment wins)."""
        pending = self.pending.get(session_id)
        if pending is None:
            self.pending[session_id] = values
        else:
            pending.update(values)

    def flush(self, session_id: str) -> None:
        """Write the session's waiting assignments now (before another statement on its row)."""
        values = self.pending.pop(session_id, None)
        if values:
            self.conn.execute(_assign_sql(tuple(values)), (*values.values(), session_id))

    def merge_row(self, ev: SessionEvent, request_id: str, write: RowWrite, values: tuple[object, ...]) -> bool:
        """Apply `write` to the request's `session_stats` row in memory when this transaction creates that row;
        False when it must go to SQL instead (the row existed before, or a value cannot be merged)."""
        key = (ev.session_id, request_id)
        row = self.rows.get(key)
        if row is not None:
            if merge(row, write, values):
                return True
            self.insert_rows()
            return False
        if self.exists(("session_stats", *key)) is not False:
            return False
        row = new_row(write, values)
        if row is None:
            return False
        _ensure_session(self, ev)
        self.rows[key] = row
        return True

    def insert_rows(self) -> None:
        """Insert the merged `session_stats` rows now, in the order they were created (call before any other
        INSERT into `session_stats`, so rows get their ids in the order of their first write)."""
        rows, self.rows = self.rows, {}
        for key, row in rows.items():
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            self.conn.execute(
                f"INSERT INTO session_stats (session_id, request_id, {columns}) VALUES (?, ?, {marks})",
                (*key, *row.values()),
            )
            full = ("session_stats", *key)
            self.checked.add(full)
            self.present.add(full)

    def finish(self) -> None:
        """Insert the merged rows and write every waiting assignment; the transaction can then commit."""
        self.insert_rows()
        for session_id in list(self.pending):
            self.flush(session_id)


@functools.lru_cache(maxsize=64)
def _assign_sql(columns: tuple[str, ...]) -> str:
    return f"UPDATE sessions SET {', '.join(f'{c} = ?' for c in columns)} WHERE session_id = ?"


def _ensure_session(b: Batch, ev: SessionEvent) -> None:
    if ev.session_id in b.sessions:
        return
    b.sessions.add(ev.session_id)
    inserted = b.conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, provider, listener, model_requested) "
        "VALUES (?, ?, ?, '', '', '') ON CONFLICT(session_id) DO NOTHING",
        (ev.session_id, b.text(ev.request_id), _ts(ev)),
    ).rowcount
    if inserted:
        # The row did not exist: assignments made to it before would have changed nothing.
        b.pending.pop(ev.session_id, None)
