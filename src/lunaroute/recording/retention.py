"""Retention of recorded sessions: expire, cap the total size, and zstd-compress old JSONL files.

Over the JSONL tree `<dir>/<YYYY-MM-DD>/<session_id>.jsonl[.zst]` (the date is the session's start date):
- `max_age_days`: files of sessions that started more than that many days ago are deleted;
- `max_total_size_gb`: while the tree is larger, the oldest files are deleted first;
- `compress_after_days`: `.jsonl` files older than that (by start date and by last write) are replaced by
  `.jsonl.zst` atomically: write a temp file, fsync it, rename it over, fsync the directory, then remove the
  original. A crash at any point leaves either the original or a complete `.zst` (or both, redone next run).
And in the SQLite database: sessions that started before the `max_age_days` cutoff are deleted with their
rows in every child table.

Age is never held against sessions that were already there when this gateway first looked after a store (a
JSONL tree or a database written by the Rust LunaRoute, which never deleted anything): the first pass writes the
time it adopted the store in a marker (`<dir>/.lunaroute-retention`, `<db>-retention`), and the `max_age_days`
rule only deletes once the store has been ours for that long; until then each pass reports how many sessions
the grace kept. A store this gateway creates is adopted when it is created, so nothing changes for it.

`run_retention` does one pass (its blocking work in a thread); `RetentionTask` runs it every
`cleanup_interval_minutes` until `aclose()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import zstandard

from lunaroute._aio import cancel_and_wait
from lunaroute.recording._fsio import FILE_MODE, fsync_dir

__all__ = [
    "GRACE_SUFFIX",
    "RetentionPolicy",
    "RetentionStats",
    "RetentionTask",
    "adopted_at",
    "free_disk_bytes",
    "run_retention",
]

_log = logging.getLogger("lunaroute.recording.retention")
_NOT_SUMMED = frozenset({"grace_until"})
_CHILD_TABLES = ("session_stats", "tool_stats", "tool_call_executions", "stream_metrics")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The config keys of `session_recording.jsonl.retention`; `None` disables a rule."""

    max_age_days: int | None = 30
    max_total_size_gb: float | None = 10.0
    compress_after_days: int | None = 7
    cleanup_interval_minutes: float = 60.0


@dataclass(slots=True)
class RetentionStats:
    """What one pass did."""

    files_deleted: int = 0
    bytes_deleted: int = 0
    files_compressed: int = 0
    bytes_saved: int = 0
    sessions_deleted: int = 0
    errors: int = 0
    kept_by_grace: int = 0
    """Files or sessions past `max_age_days` kept because the store was adopted less than that long ago."""
    grace_until: dt.datetime | None = None
    """When the grace of a store adopted less than `max_age_days` ago ends (None: no grace in effect)."""


GRACE_SUFFIX = "-retention"
"""A database's adoption marker is `<database path>` + this; a JSONL tree's is `<dir>/.lunaroute-retention`."""


def adopted_at(marker: Path, now: dt.datetime) -> dt.datetime:
    """When the store of `marker` was first looked after: read from the marker, written with `now` if absent."""
    try:
        return dt.datetime.fromisoformat(marker.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        _log.warning("retention: unreadable marker %s (%r); adopting the store now", marker, exc)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(now.isoformat(), encoding="utf-8")
    return now


def _grace(marker: Path, policy: RetentionPolicy, now: dt.datetime) -> dt.datetime | None:
    """The end of the adoption grace of `marker`'s store, or None when the age rule applies in full."""
    if policy.max_age_days is None:
        return None
    until = adopted_at(marker, now) + dt.timedelta(days=policy.max_age_days)
    return until if until > now else None


def free_disk_bytes(path: Path) -> int:
    """Bytes free for this process on the file system holding `path` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _session_files(root: Path) -> list[tuple[dt.date, Path]]:
    out: list[tuple[dt.date, Path]] = []
    if not root.is_dir():
        return out
    for day_dir in root.iterdir():
        try:
            day = dt.date.fromisoformat(day_dir.name)
        except ValueError:
            continue
        if day_dir.is_dir():
            out.extend((day, f) for f in day_dir.iterdir() if f.name.endswith((".jsonl", ".jsonl.zst")))
    out.sort(key=lambda item: (item[0], item[1].stat().st_mtime if item[1].exists() else 0.0))
    return out


def compress_file(path: Path, level: int = 10) -> Path:
    """Replace `x.jsonl` by `x.jsonl.zst` atomically (see the module doc); return the new path."""
    target = path.with_name(path.name + ".zst")
    tmp = path.with_name(f".{path.name}.zst.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            zstandard.ZstdCompressor(level=level).copy_stream(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    path.unlink()
    fsync_dir(path.parent)
    return target


def _delete(path: Path, stats: RetentionStats) -> None:
    size = path.stat().st_size
    path.unlink()
    stats.files_deleted += 1
    stats.bytes_deleted += size


def _jsonl_pass(root: Path, policy: RetentionPolicy, now: dt.datetime, stats: RetentionStats) -> None:
    today = now.astimezone(dt.UTC).date()
    files = _session_files(root)
    grace = _grace(root / ".lunaroute-retention", policy, now) if root.is_dir() else None
    kept: list[tuple[dt.date, Path]] = []
    for day, path in files:
        try:
            if policy.max_age_days is not None and (today - day).days > policy.max_age_days:
                if grace is None:
                    _delete(path, stats)
                    continue
                stats.kept_by_grace += 1
                stats.grace_until = grace
            if (
                policy.compress_after_days is not None
                and path.name.endswith(".jsonl")
                and (today - day).days > policy.compress_after_days
                and now.timestamp() - path.stat().st_mtime > policy.compress_after_days * 86400
            ):
                before = path.stat().st_size
                path = compress_file(path)
                stats.files_compressed += 1
                stats.bytes_saved += before - path.stat().st_size
            kept.append((day, path))
        except OSError as exc:
            stats.errors += 1
            _log.error("retention: %s: %r", path, exc)
    if policy.max_total_size_gb is not None:
        limit = int(policy.max_total_size_gb * 1024**3)
        total = sum(p.stat().st_size for _, p in kept if p.exists())
        for _, path in kept:
            if total <= limit:
                break
            try:
                size = path.stat().st_size
                _delete(path, stats)
                total -= size
            except OSError as exc:
                stats.errors += 1
                _log.error("retention: %s: %r", path, exc)
    for day_dir in root.iterdir() if root.is_dir() else ():
        if day_dir.is_dir() and not any(day_dir.iterdir()):
            with contextlib.suppress(OSError):
                day_dir.rmdir()


def _sqlite_pass(
    db: Path, cutoff: dt.datetime, grace: dt.datetime | None, stats: RetentionStats, busy_timeout_ms: int
) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=busy_timeout_ms / 1000.0)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if grace is not None:
            row = conn.execute(
                "SELECT count(*) FROM sessions WHERE julianday(started_at) < julianday(?)", (cutoff.isoformat(),)
            ).fetchone()
            if row[0]:
                stats.kept_by_grace += int(row[0])
                stats.grace_until = grace
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            expired = "SELECT session_id FROM sessions WHERE julianday(started_at) < julianday(?)"
            for table in _CHILD_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE session_id IN ({expired})", (cutoff.isoformat(),))
            cur = conn.execute("DELETE FROM sessions WHERE julianday(started_at) < julianday(?)", (cutoff.isoformat(),))
            stats.sessions_deleted += cur.rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _run_sync(
    policy: RetentionPolicy, jsonl_dir: Path | None, sqlite_path: Path | None, now: dt.datetime, busy_ms: int
) -> RetentionStats:
    stats = RetentionStats()
    if jsonl_dir is not None:
        _jsonl_pass(jsonl_dir, policy, now, stats)
    if sqlite_path is not None and policy.max_age_days is not None and sqlite_path.exists():
        try:
            grace = _grace(sqlite_path.with_name(sqlite_path.name + GRACE_SUFFIX), policy, now)
            _sqlite_pass(sqlite_path, now - dt.timedelta(days=policy.max_age_days), grace, stats, busy_ms)
        except (sqlite3.Error, OSError) as exc:
            stats.errors += 1
            _log.error("retention: sqlite %s: %r", sqlite_path, exc)
    return stats


async def run_retention(
    policy: RetentionPolicy,
    *,
    jsonl_dir: Path | None = None,
    sqlite_path: Path | None = None,
    now: dt.datetime | None = None,
    busy_timeout_ms: int = 5000,
) -> RetentionStats:
    """One retention pass over the JSONL tree and/or the SQLite database (I/O in a worker thread)."""
    moment = now or dt.datetime.now(dt.UTC)
    return await asyncio.to_thread(_run_sync, policy, jsonl_dir, sqlite_path, moment, busy_timeout_ms)


class RetentionTask:
    """Runs `run_retention` at start and then every `policy.cleanup_interval_minutes`, until `aclose()`."""

    def __init__(self, policy: RetentionPolicy, *, jsonl_dir: Path | None, sqlite_path: Path | None) -> None:
        self.policy = policy
        self._jsonl_dir = jsonl_dir
        self._sqlite_path = sqlite_path
        self._task: asyncio.Task[None] | None = None
        self.last_stats: RetentionStats | None = None
        self.totals = RetentionStats()
        """The sums over every pass so far."""
        self.runs = 0
        self._grace_said = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="lunaroute-retention")

    async def _loop(self) -> None:
        while True:
            try:
                self.last_stats = await run_retention(
                    self.policy, jsonl_dir=self._jsonl_dir, sqlite_path=self._sqlite_path
                )
                self.runs += 1
                for field in dataclasses.fields(RetentionStats):
                    if field.name in _NOT_SUMMED:
                        continue
                    total = getattr(self.totals, field.name) + getattr(self.last_stats, field.name)
                    setattr(self.totals, field.name, total)
                self._say_grace(self.last_stats)
            except OSError as exc:
                _log.error("retention pass failed: %r", exc)
            await asyncio.sleep(self.policy.cleanup_interval_minutes * 60.0)

    def _say_grace(self, stats: RetentionStats) -> None:
        """One warning per process when the adoption grace keeps sessions past `max_age_days`."""
        if stats.kept_by_grace and stats.grace_until is not None and not self._grace_said:
            self._grace_said = True
            _log.warning(
                "retention: %d recorded sessions are older than max_age_days=%s but were here before this gateway "
                "first looked after the store; they are kept until %s, then deleted "
                "(set session_recording.jsonl.retention.max_age_days: null to keep them)",
                stats.kept_by_grace,
                self.policy.max_age_days,
                stats.grace_until.date().isoformat(),
            )

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
