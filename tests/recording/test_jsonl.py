"""The JSONL writer (layout, modes, handle cache, fsync) and reader (torn tail, zstd)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from tests.recording._builders import T0, request_events

from lunaroute.recording.codec import encode_line
from lunaroute.recording.events import RequestRecorded
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.jsonl_reader import BadLine, iter_session_file, read_session_file


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the writer must not rely on the umask for private modes
    try:
        yield
    finally:
        os.umask(old)


async def test_layout_is_start_date_and_session_id(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "sessions")
    late = T0.replace(hour=23, minute=59, second=59)
    first = request_events("sess-A", "r1", at=late)
    second = request_events("sess-A", "r2", at=late + dt.timedelta(minutes=5))  # next UTC day
    await writer.write_batch(first)
    await writer.write_batch(second)
    await writer.close()
    path = tmp_path / "sessions" / "2026-03-01" / "sess-A.jsonl"
    assert [p.relative_to(tmp_path) for p in (tmp_path / "sessions").rglob("*.jsonl")] == [path.relative_to(tmp_path)]
    assert list(iter_session_file(path)) == first + second


async def test_restart_finds_the_session_file_of_an_earlier_day(tmp_path: Path) -> None:
    w1 = JsonlWriter(tmp_path)
    await w1.write_batch(request_events("s", "r1", at=T0))
    await w1.close()
    w2 = JsonlWriter(tmp_path)
    await w2.write_batch(request_events("s", "r2", at=T0 + dt.timedelta(days=2)))
    await w2.close()
    assert [p.parent.name for p in tmp_path.rglob("*.jsonl")] == ["2026-03-01"]
    assert len(read_session_file(tmp_path / "2026-03-01" / "s.jsonl").events) == 14


async def test_a_restarted_writer_skips_events_already_in_a_file(tmp_path: Path) -> None:
    """A recorder killed after writing is followed by one that derives the same events from the journal again."""
    first = request_events("s", "r1", tools=2)
    w1 = JsonlWriter(tmp_path)
    await w1.write_batch(first[:4])  # killed part-way through the request
    await w1.close()
    w2 = JsonlWriter(tmp_path)
    await w2.write_batch(first + request_events("s", "r2"))  # the replay, then a new request
    await w2.write_batch(request_events("s", "r3"))
    await w2.close()
    stored = list(iter_session_file(tmp_path / "2026-03-01" / "s.jsonl"))
    assert stored == first + request_events("s", "r2") + request_events("s", "r3")


@pytest.mark.usefixtures("open_umask")
async def test_files_are_0600_and_directories_0700(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "home" / "sessions", fsync=True)
    await writer.write_batch(request_events("s", "r"))
    await writer.flush()
    await writer.close()
    day = tmp_path / "home" / "sessions" / "2026-03-01"
    for d in (tmp_path / "home", tmp_path / "home" / "sessions", day):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((day / "s.jsonl").stat().st_mode) == 0o600


async def test_open_handles_are_bounded(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path, max_open_files=3)
    for i in range(10):
        await writer.write_batch(request_events(f"s{i}", "r", tools=0))
    assert len(writer._fds) == 3
    await writer.write_batch(request_events("s0", "r2", tools=0))  # evicted handle reopens in append mode
    await writer.close()
    assert len(read_session_file(tmp_path / "2026-03-01" / "s0.jsonl").events) == 12


async def test_every_line_is_whole_and_invalid_ids_are_skipped(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path)
    events = request_events("ok", "r")
    bad = RequestRecorded(session_id="../../etc/passwd", request_id="r")
    await writer.write_batch([*events[:3], bad, *events[3:]])
    await writer.close()
    assert list(tmp_path.rglob("*passwd*")) == []
    raw = (tmp_path / "2026-03-01" / "ok.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == len(events)


async def test_odd_content_is_stored(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path, max_field_chars=1_000_000)
    ev = RequestRecorded(session_id="s", request_id="r", timestamp=T0, request_text="\x00\ud800" + "y" * 10_000_000)
    await writer.write_batch([ev])
    await writer.close()
    (back,) = list(iter_session_file(tmp_path / "2026-03-01" / "s.jsonl"))
    assert isinstance(back, RequestRecorded)
    assert back.request_text.startswith("\x00\\ud800yyy")
    assert "truncated by lunaroute" in back.request_text


def test_reader_skips_and_reports_a_torn_last_line(tmp_path: Path) -> None:
    events = request_events("s", "r")
    path = tmp_path / "s.jsonl"
    body = b"".join(encode_line(ev) for ev in events)
    path.write_bytes(body + encode_line(events[0])[:25])  # no newline: torn
    reported: list[BadLine] = []
    assert list(iter_session_file(path, on_bad_line=reported.append)) == events
    assert len(reported) == 1
    assert reported[0].torn
    assert reported[0].line_no == len(events) + 1

    path.write_bytes(body + b'{"type":"completed",\n')  # newline but not JSON: also torn
    result = read_session_file(path)
    assert result.events == events
    assert result.torn


def test_reader_reports_unknown_types_and_bad_middle_lines(tmp_path: Path) -> None:
    events = request_events("s", "r")[:2]
    path = tmp_path / "s.jsonl"
    snapshot = b'{"type":"stats_snapshot","session_id":"s","request_id":"r","timestamp":"2026-01-01T00:00:00Z"}\n'
    path.write_bytes(encode_line(events[0]) + b"garbage\n" + snapshot + encode_line(events[1]))
    result = read_session_file(path)
    assert result.events == events
    assert [(b.line_no, b.torn) for b in result.bad_lines] == [(2, False), (3, False)]


def test_reader_reads_zstd_files(tmp_path: Path) -> None:
    events = request_events("s", "r")
    path = tmp_path / "s.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"".join(encode_line(ev) for ev in events) + b"{tor"))
    result = read_session_file(path)
    assert result.events == events
    assert result.torn
