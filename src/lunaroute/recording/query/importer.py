"""Importing a JSONL session tree into a SQLite session database, through `SqliteWriter` and its write rules.

Files are grouped by session (a Rust-written session may span several day directories), read in day order,
and written `batch_size` sessions per transaction. The import is idempotent: with `skip_existing` a session
already in the database is left alone, and without it the writer's idempotent upserts make a second import
change nothing. A batch that fails is retried one session at a time, so one bad session does not sink the
others; with `continue_on_error=False` the first failure stops the import. Encrypted files are opened with
`cipher`; a session whose records no key opens is a read failure naming the file and the key ids.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from lunaroute.recording._crypto import RecordCipher, RecordKeyError
from lunaroute.recording.events import SessionEvent, is_valid_session_id
from lunaroute.recording.jsonl_reader import BadLine, iter_session_file
from lunaroute.recording.sqlite import SqliteWriter

__all__ = ["ImportReport", "find_session_files", "import_jsonl"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SUFFIXES = (".jsonl.zst", ".jsonl")
_READ_ERRORS = (OSError, zstandard.ZstdError, RecordKeyError)


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    files: int = 0
    sessions_found: int = 0
    sessions_imported: int = 0
    sessions_skipped: int = 0
    events: int = 0
    bad_lines: int = 0
    invalid_names: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def find_session_files(directory: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Session files under `directory` by session id (oldest day first), and the files with invalid names."""
    sessions: dict[str, list[Path]] = {}
    invalid: list[Path] = []
    if not directory.is_dir():
        return sessions, invalid
    for day in sorted(p for p in directory.iterdir() if p.is_dir() and _DAY.fullmatch(p.name)):
        for path in sorted(day.iterdir()):
            suffix = next((s for s in _SUFFIXES if path.name.endswith(s)), None)
            if suffix is None or not path.is_file():
                continue
            sid = path.name[: -len(suffix)]
            if is_valid_session_id(sid):
                sessions.setdefault(sid, []).append(path)
            else:
                invalid.append(path)
    return sessions, invalid


def _existing_ids(db_path: Path, ids: list[str]) -> set[str]:
    """Which of `ids` already have a `sessions` row (read-only; none when the database does not exist)."""
    if not db_path.is_file():
        return set()
    conn = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").fetchone() is None:
            return set()
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(f"SELECT session_id FROM sessions WHERE session_id IN ({marks})", chunk)
            found.update(r[0] for r in rows)
        return found
    finally:
        conn.close()


def _read(paths: list[Path], report: ImportReport, cipher: RecordCipher | None) -> list[SessionEvent]:
    bad: list[BadLine] = []
    events = [ev for path in paths for ev in iter_session_file(path, on_bad_line=bad.append, cipher=cipher)]
    report.bad_lines += len(bad)
    return events


async def import_jsonl(
    sessions_dir: Path,
    db_path: Path,
    *,
    batch_size: int = 10,
    skip_existing: bool = True,
    continue_on_error: bool = True,
    dry_run: bool = False,
    progress: Callable[[ImportReport], None] | None = None,
    cipher: RecordCipher | None = None,
) -> ImportReport:
    """Import every session file under `sessions_dir` into `db_path` (created if missing, unless `dry_run`).

    Per-session failures are listed in the report, not raised; with `continue_on_error=False` the import
    stops at the first one. `progress` is called after each batch; `cipher` opens encrypted files.
    """
    report = ImportReport()
    sessions, report.invalid_names = await asyncio.to_thread(find_session_files, sessions_dir)
    report.files = sum(len(p) for p in sessions.values())
    report.sessions_found = len(sessions)
    ids = list(sessions)
    if skip_existing:
        existing = await asyncio.to_thread(_existing_ids, db_path, ids)
        report.sessions_skipped = len(existing)
        ids = [sid for sid in ids if sid not in existing]
    writer = None if dry_run else await SqliteWriter.open(db_path)
    try:
        for start in range(0, len(ids), max(1, batch_size)):
            batch: list[tuple[str, list[SessionEvent]]] = []
            for sid in ids[start : start + max(1, batch_size)]:
                try:
                    batch.append((sid, await asyncio.to_thread(_read, sessions[sid], report, cipher)))
                except _READ_ERRORS as exc:
                    report.failures.append((sid, f"read: {exc}"))
                    if not continue_on_error:
                        return report
            if not await _write(writer, batch, report, continue_on_error):
                return report
            if progress is not None:
                progress(report)
    finally:
        if writer is not None:
            await writer.close()
    return report


async def _write(
    writer: SqliteWriter | None, batch: list[tuple[str, list[SessionEvent]]], report: ImportReport, keep_going: bool
) -> bool:
    """Write one batch (each session alone if the batch fails); False when the import must stop."""
    if writer is None:
        for _, events in batch:
            report.events += len(events)
        report.sessions_imported += len(batch)
        return True
    try:
        await writer.write_batch([ev for _, events in batch for ev in events])
    except (sqlite3.Error, OSError):
        for sid, events in batch:
            try:
                await writer.write_batch(events)
            except (sqlite3.Error, OSError) as exc:
                report.failures.append((sid, f"write: {exc}"))
                if not keep_going:
                    return False
                continue
            report.sessions_imported += 1
            report.events += len(events)
        return True
    report.sessions_imported += len(batch)
    report.events += sum(len(events) for _, events in batch)
    return True
