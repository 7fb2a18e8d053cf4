"""Raw JSONL events (with path-traversal attempts), exports (CSV injection) and time parsing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import msgspec
import pytest
import zstandard

from lunaroute.recording.codec import decode_event
from lunaroute.recording.events import RequestRecorded, ResponseRecorded
from lunaroute.recording.query import (
    InvalidSessionId,
    JsonlArchive,
    SessionExport,
    SessionFilter,
    SqliteSessionStore,
    csv_cell,
    events_jsonl,
    parse_when,
    requests_csv,
    sessions_csv,
    to_json,
)

EVIL_IDS = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "..",
    "/etc/passwd",
    "a\x00b",
    "a" * 10_240,
    "",
    "sess a",
    "sess-a/../sess-b",
    "sess-a.jsonl",
]


def test_events_of_a_session_and_of_one_request(seeded: tuple[Path, Path]) -> None:
    archive = JsonlArchive(seeded[1])
    events = archive.events("sess-a")
    assert len(events) == 3 * 7  # started, request, stream, response, one tool call, completed, stats
    one = archive.events("sess-a", request_id="sess-a-req1")
    assert {e.request_id for e in one} == {"sess-a-req1"}
    assert any(isinstance(e, RequestRecorded) for e in one)
    assert any(isinstance(e, ResponseRecorded) for e in one)
    assert archive.events("unknown-session") == []
    assert JsonlArchive(seeded[1] / "missing").events("sess-a") == []


def test_window_around_the_start_and_compressed_files(seeded: tuple[Path, Path], now: dt.datetime) -> None:
    root = seeded[1]
    [path] = JsonlArchive(root).session_files("sess-old")
    later = root / (now.date() + dt.timedelta(days=30)).isoformat()
    later.mkdir()
    zst = later / "sess-old.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(path.read_bytes()))
    archive = JsonlArchive(root, days_before=1, days_after=7)
    started = now - dt.timedelta(days=3)
    assert archive.session_files("sess-old", started) == [path]  # 30 days later is outside the window
    assert archive.session_files("sess-old") == [path, zst]  # no start: every day
    assert len(archive.events("sess-old")) == 2 * len(archive.events("sess-old", started))


@pytest.mark.parametrize("evil", EVIL_IDS)
def test_invalid_ids_never_reach_a_path(seeded: tuple[Path, Path], evil: str) -> None:
    archive = JsonlArchive(seeded[1])
    with pytest.raises(InvalidSessionId):
        archive.events(evil)
    with pytest.raises(InvalidSessionId):
        archive.session_files(evil, dt.datetime.now(dt.UTC))
    with pytest.raises(InvalidSessionId):
        archive.delete(evil)


def test_delete_files(seeded: tuple[Path, Path]) -> None:
    archive = JsonlArchive(seeded[1])
    assert archive.delete("sess-a") == 1
    assert archive.events("sess-a") == []
    assert archive.delete("sess-a") == 0
    assert archive.events("sess-b")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("<script>", "<script>"),
        (-5, -5),
        (1.5, 1.5),
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_cell(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


async def test_csv_exports_are_injection_safe(store: SqliteSessionStore) -> None:
    page = await store.list_sessions(SessionFilter())
    text = "".join(sessions_csv(page.sessions))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["session_id"] for r in rows] == ["sess-b", "sess-fail", "sess-a", "sess-old"]
    assert rows[2]["total_tokens"] == "3480"
    detail = await store.get_session("sess-fail")
    assert detail is not None
    text = "".join(requests_csv("sess-fail", detail.requests))
    assert len(list(csv.reader(io.StringIO(text)))) == 3
    for row in csv.reader(io.StringIO(text)):
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


async def test_jsonl_and_json_exports(store: SqliteSessionStore, seeded: tuple[Path, Path]) -> None:
    events = JsonlArchive(seeded[1]).events("sess-b")
    lines = b"".join(events_jsonl(events)).splitlines()
    assert [decode_event(line) for line in lines] == events
    detail = await store.get_session("sess-b")
    assert detail is not None
    exported = msgspec.json.decode(to_json(SessionExport(session=detail, events=tuple(events))), type=SessionExport)
    assert exported.session == detail
    assert exported.events == tuple(events)


def test_parse_when() -> None:
    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
    assert parse_when("24h", now) == now - dt.timedelta(hours=24)
    assert parse_when("7d", now) == now - dt.timedelta(days=7)
    assert parse_when("30m", now) == now - dt.timedelta(minutes=30)
    assert parse_when("2W", now) == now - dt.timedelta(weeks=2)
    assert parse_when("2026-03-01", now) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert parse_when("2026-03-01T10:00:00+02:00", now) == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    assert parse_when("2026-03-01T10:00:00Z", now) == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    for bad in ("yesterday", "", "5y", "999999w", "' OR 1=1"):
        with pytest.raises(ValueError, match=r"not a time|too far"):
            parse_when(bad, now)
