"""The durable spool: append, chunked reads from a committed offset, torn-tail repair, removal."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.recording._builders import request_events

from lunaroute.recording.codec import encode_line
from lunaroute.recording.spool import Spool


def test_append_read_commit_and_remove(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "w.spool.jsonl")
    events = request_events("s1", "r1") + request_events("s1", "r2")
    spool.append([encode_line(ev) for ev in events])
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.path.parent.stat().st_mode) == 0o700
    assert spool.pending()
    first = spool.read(5)
    assert first.events == events[:5]
    spool.commit(first.end_offset)
    assert Spool(spool.path).committed_offset() == first.end_offset  # durable, seen by a new instance
    rest = spool.read(100)
    assert rest.events == events[5:]
    spool.commit(rest.end_offset)
    assert not spool.pending()
    assert not spool.path.exists()
    assert not spool.offset_path.exists()


def test_torn_tail_is_cut_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "w.spool.jsonl"
    good = request_events("s1", "r1")[:2]
    path.write_bytes(encode_line(good[0]) + b"{not json}\n" + encode_line(good[1]) + b'{"type":"star')
    spool = Spool(path)
    assert spool.recover() == len(b'{"type":"star')
    chunk = spool.read(10)
    assert chunk.events == good
    assert chunk.bad_lines == 1
    assert chunk.end_offset == path.stat().st_size


def test_append_nowait_then_sync(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "overflow-1.jsonl")
    ev = request_events("s1", "r1")[0]
    spool.append_nowait(encode_line(ev))
    spool.sync()
    spool.close()
    assert Spool(spool.path).read(10).events == [ev]
