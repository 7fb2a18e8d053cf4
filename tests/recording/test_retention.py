"""Retention: age, total size, atomic zstd compression of old JSONL files, expired SQLite rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from tests.recording._builders import request_events

from lunaroute.recording.codec import encode_line
from lunaroute.recording.jsonl_reader import read_session_file
from lunaroute.recording.retention import (
    GRACE_SUFFIX,
    RetentionPolicy,
    RetentionTask,
    compress_file,
    free_disk_bytes,
    run_retention,
)
from lunaroute.recording.sqlite import SqliteWriter

NOW = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)


def adopted_long_ago(store: Path) -> Path:
    """Mark `store` (a JSONL tree or a database) as looked after by this gateway for a year: no grace."""
    marker = store / ".lunaroute-retention" if store.is_dir() else store.with_name(store.name + GRACE_SUFFIX)
    marker.write_text((NOW - dt.timedelta(days=365)).isoformat())
    return store


def make_file(root: Path, days_ago: int, sid: str, *, size_pad: int = 0) -> Path:
    day = (NOW - dt.timedelta(days=days_ago)).date()
    path = root / day.isoformat() / f"{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    events = request_events(sid, "r", at=NOW - dt.timedelta(days=days_ago))
    path.write_bytes(b"".join(encode_line(ev) for ev in events) + b" " * size_pad + b"\n" * bool(size_pad))
    old = (NOW - dt.timedelta(days=days_ago)).timestamp()
    os.utime(path, (old, old))
    return path


async def test_age_and_compression(tmp_path: Path) -> None:
    fresh = make_file(tmp_path, 1, "fresh")
    week = make_file(tmp_path, 10, "week")
    expired = make_file(tmp_path, 40, "expired")
    adopted_long_ago(tmp_path)
    original = read_session_file(week).events
    stats = await run_retention(
        RetentionPolicy(max_age_days=30, compress_after_days=7, max_total_size_gb=None), jsonl_dir=tmp_path, now=NOW
    )
    assert stats.files_deleted == 1
    assert stats.files_compressed == 1
    assert stats.errors == 0
    assert not expired.exists()
    assert not expired.parent.exists()
    assert fresh.exists()
    assert not week.exists()
    zst = week.with_name("week.jsonl.zst")
    assert read_session_file(zst).events == original
    assert stat.S_IMODE(zst.stat().st_mode) == 0o600
    assert stats.bytes_saved > 0
    assert list(tmp_path.rglob(".*tmp")) == []


async def test_total_size_deletes_oldest_first(tmp_path: Path) -> None:
    files = [make_file(tmp_path, d, f"s{d}", size_pad=400_000) for d in (1, 2, 3, 4)]
    policy = RetentionPolicy(max_age_days=None, compress_after_days=None, max_total_size_gb=1_000_000 / 1024**3)
    stats = await run_retention(policy, jsonl_dir=tmp_path, now=NOW)
    assert stats.files_deleted == 2
    assert [f.exists() for f in files] == [True, True, False, False]


def test_compress_is_atomic_and_redoable(tmp_path: Path) -> None:
    path = make_file(tmp_path, 9, "s")
    events = read_session_file(path).events
    # a crash after the rename left both files; the next pass redoes the work
    stale = path.with_name("s.jsonl.zst")
    stale.write_bytes(b"partial")
    target = compress_file(path)
    assert target == stale
    assert not path.exists()
    assert read_session_file(target).events == events


async def test_expired_sqlite_rows_are_deleted(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    writer = await SqliteWriter.open(db)
    await writer.write_batch(request_events("old", "r", at=NOW - dt.timedelta(days=40), tools=2))
    await writer.write_batch(request_events("new", "r", at=NOW - dt.timedelta(days=2), tools=2))
    stats = await run_retention(RetentionPolicy(max_age_days=30), sqlite_path=adopted_long_ago(db), now=NOW)
    assert stats.sessions_deleted == 1
    for table in ("sessions", "session_stats", "tool_stats", "tool_call_executions", "stream_metrics"):
        assert await writer.query(f"SELECT DISTINCT session_id FROM {table}") == [("new",)]
    await writer.close()


async def test_background_task_runs_and_stops(tmp_path: Path) -> None:
    make_file(tmp_path, 400, "ancient")
    task = RetentionTask(
        RetentionPolicy(max_age_days=30, cleanup_interval_minutes=0.001), jsonl_dir=tmp_path, sqlite_path=None
    )
    task.start()
    for _ in range(100):
        await asyncio.sleep(0.02)
        if task.runs >= 2:
            break
    await task.aclose()
    assert task.runs >= 2
    assert task.last_stats is not None
    assert list(tmp_path.rglob("*.jsonl")) == []


def test_free_disk_bytes(tmp_path: Path) -> None:
    assert free_disk_bytes(tmp_path / "does" / "not" / "exist") > 0


async def test_the_age_limits_are_exclusive(tmp_path: Path) -> None:
    """A file exactly `max_age_days` old is kept (only older ones go); one exactly `compress_after_days` old is
    not compressed yet."""
    files = {days: make_file(tmp_path, days, f"s{days}") for days in (6, 7, 8, 29, 30, 31)}
    adopted_long_ago(tmp_path)
    # Its write time (a skewed clock) says eight days: by that alone it would be compressed; its start date keeps it.
    written = (NOW - dt.timedelta(days=8)).timestamp()
    os.utime(files[7], (written, written))
    stats = await run_retention(
        RetentionPolicy(max_age_days=30, compress_after_days=7, max_total_size_gb=None), jsonl_dir=tmp_path, now=NOW
    )
    assert stats.errors == 0
    assert stats.files_deleted == 1
    assert not files[31].exists()
    assert not files[31].with_name("s31.jsonl.zst").exists()
    assert [days for days, path in files.items() if path.exists()] == [6, 7]
    assert sorted(p.name for p in tmp_path.rglob("*.zst")) == ["s29.jsonl.zst", "s30.jsonl.zst", "s8.jsonl.zst"]


async def test_a_sqlite_session_exactly_at_the_age_limit_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    writer = await SqliteWriter.open(db)
    cutoff = NOW - dt.timedelta(days=30)
    await writer.write_batch(request_events("at-limit", "r", at=cutoff, tools=0))
    await writer.write_batch(request_events("past-limit", "r", at=cutoff - dt.timedelta(seconds=1), tools=0))
    stats = await run_retention(RetentionPolicy(max_age_days=30), sqlite_path=adopted_long_ago(db), now=NOW)
    assert stats.sessions_deleted == 1
    assert await writer.query("SELECT session_id FROM sessions") == [("at-limit",)]
    await writer.close()


async def test_sessions_older_than_the_store_adoption_get_a_grace_period(tmp_path: Path) -> None:
    """A Rust LunaRoute's tree and database, seen for the first time: nothing is deleted for its age until the
    store has been looked after for `max_age_days`; newer rules (compression) apply at once."""
    old = make_file(tmp_path / "sessions", 400, "rust-era")
    db = tmp_path / "sessions.db"
    writer = await SqliteWriter.open(db)
    await writer.write_batch(request_events("rust-era", "r", at=NOW - dt.timedelta(days=400), tools=0))
    policy = RetentionPolicy(max_age_days=30, compress_after_days=None, max_total_size_gb=None)
    first = await run_retention(policy, jsonl_dir=tmp_path / "sessions", sqlite_path=db, now=NOW)
    assert first.files_deleted == 0
    assert first.sessions_deleted == 0
    assert first.kept_by_grace == 2
    assert first.grace_until == NOW + dt.timedelta(days=30)
    assert old.exists()
    assert (tmp_path / "sessions" / ".lunaroute-retention").read_text() == NOW.isoformat()
    later = await run_retention(
        policy, jsonl_dir=tmp_path / "sessions", sqlite_path=db, now=NOW + dt.timedelta(days=29)
    )
    assert later.kept_by_grace == 2
    assert old.exists()
    done = await run_retention(policy, jsonl_dir=tmp_path / "sessions", sqlite_path=db, now=NOW + dt.timedelta(days=31))
    assert done.kept_by_grace == 0
    assert done.files_deleted == 1
    assert done.sessions_deleted == 1
    assert not old.exists()
    await writer.close()


async def test_the_grace_is_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_file(tmp_path, 400, "rust-era")
    task = RetentionTask(
        RetentionPolicy(max_age_days=30, compress_after_days=None, cleanup_interval_minutes=0.001),
        jsonl_dir=tmp_path,
        sqlite_path=None,
    )
    with caplog.at_level("WARNING", logger="lunaroute.recording.retention"):
        task.start()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if task.runs >= 3:
                break
        await task.aclose()
    assert task.runs >= 3
    said = [r.getMessage() for r in caplog.records if "kept until" in r.getMessage()]
    assert len(said) == 1
    assert "1 recorded sessions are older than max_age_days=30" in said[0]
    assert list(tmp_path.rglob("*.jsonl")) != []
