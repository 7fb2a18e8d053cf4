"""import_jsonl: JSONL written by JsonlWriter into SQLite through SqliteWriter, idempotently."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from tests.recording.query._seed import now_utc, seed, session_events, standard_specs

from lunaroute.recording.query import SessionFilter, SqliteSessionStore, import_jsonl


def table_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "session_stats", "tool_stats", "tool_call_executions", "stream_metrics")
        }


async def test_import_matches_a_direct_write_and_is_idempotent(tmp_path: Path) -> None:
    now = now_utc()
    direct, imported, jsonl = tmp_path / "direct.db", tmp_path / "imported.db", tmp_path / "sessions"
    await seed(direct, jsonl, standard_specs(now))
    report = await import_jsonl(jsonl, imported, batch_size=2)
    assert (report.sessions_found, report.sessions_imported, report.sessions_skipped) == (4, 4, 0)
    assert report.events == sum(len(session_events(s)) for s in standard_specs(now))
    assert report.failures == []
    assert table_counts(imported) == table_counts(direct)
    again = await import_jsonl(jsonl, imported)
    assert (again.sessions_imported, again.sessions_skipped) == (0, 4)
    forced = await import_jsonl(jsonl, imported, skip_existing=False)
    assert forced.sessions_imported == 4
    assert table_counts(imported) == table_counts(direct)
    store = SqliteSessionStore(imported)
    try:
        a = next(s for s in (await store.list_sessions(SessionFilter())).sessions if s.session_id == "sess-a")
        assert a.request_count == 3
        assert a.total_tokens == 3480
    finally:
        await store.close()


async def test_dry_run_writes_nothing_and_bad_files_are_reported(tmp_path: Path) -> None:
    jsonl = tmp_path / "sessions"
    await seed(None, jsonl, standard_specs(now_utc()))
    day = next(jsonl.iterdir())
    (day / "bad name!.jsonl").write_text("{}\n")
    (day / "torn.jsonl").write_bytes(b'{"type": "started", "session_id": "torn"')
    (tmp_path / "sessions" / "not-a-day").mkdir()
    db = tmp_path / "s.db"
    report = await import_jsonl(jsonl, db, dry_run=True)
    assert not db.exists()
    assert report.sessions_found == 5
    assert report.sessions_imported == 5
    assert [p.name for p in report.invalid_names] == ["bad name!.jsonl"]
    assert report.bad_lines == 1


async def test_session_split_over_days_is_imported_whole(tmp_path: Path) -> None:
    jsonl, db = tmp_path / "sessions", tmp_path / "s.db"
    now = now_utc()
    await seed(None, jsonl, standard_specs(now))
    [path] = list(jsonl.glob("*/sess-a.jsonl"))
    lines = path.read_bytes().splitlines(keepends=True)
    later = jsonl / (dt.date.fromisoformat(path.parent.name) + dt.timedelta(days=1)).isoformat()
    later.mkdir(exist_ok=True)
    path.write_bytes(b"".join(lines[:8]))
    (later / "sess-a.jsonl").write_bytes(b"".join(lines[8:]))
    report = await import_jsonl(jsonl, db, batch_size=1)
    assert report.sessions_found == 4
    assert report.files == 5
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM session_stats WHERE session_id = 'sess-a'").fetchone() == (3,)
