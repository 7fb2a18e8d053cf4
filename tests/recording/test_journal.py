"""The capture journal: frames written by the gateway and read back by the recorder in order, committed frames only
in mapped segments, spares written again, torn or damaged appended segments, the earlier line format, and the
fallbacks when a file cannot be mapped or the disk is full."""

from __future__ import annotations

import errno
import logging
import mmap
import os
import struct
import sys
from pathlib import Path

import msgspec
import pytest

from lunaroute.recording._frames import encode_entry
from lunaroute.recording._journal import Journal
from lunaroute.recording._journal_reader import JournalReader
from lunaroute.recording._segments import MAX_SPARES, SEGMENT_BYTES, MappedPool, discard, segment_path, segments
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.worker._consume import JournalConsumer

from ._builders import record


def test_appended_segments_are_followed_in_order_and_a_torn_entry_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path, rotate_secs=3600, mapped=False)
    first = journal.open()
    journal.stage("start", record("a"))
    journal.flush()
    reader = JournalReader(tmp_path)
    assert [(seg, e.record.request_id) for seg, e in reader.read()] == [(first, "a")]
    journal.rotate()
    journal.stage("end", record("a", ended=True))
    journal.flush()
    # A torn entry at the end of the closed first segment is skipped, not mis-read.
    with open(segment_path(tmp_path, first), "ab") as handle:
        handle.write(encode_entry("start", record("torn"))[:40])
    entries = [(seg, e.kind, e.record.request_id) for seg, e in reader.read()]
    assert entries == [(first + 1, "end", "a")]
    assert reader.completed == [first]
    # The end entry leaves the request body out: the start has it.
    assert list(JournalReader(tmp_path).read())[-1][1].record.request_body == b""
    journal.close()
    journal.unlock()


def test_a_partial_appended_entry_is_read_once_it_is_complete(tmp_path: Path) -> None:
    journal = Journal(tmp_path, mapped=False)
    first = journal.open()
    reader = JournalReader(tmp_path)
    frame = encode_entry("start", record("p"))
    with open(segment_path(tmp_path, first), "ab") as handle:
        for piece in (frame[:5], frame[5:30]):  # cut inside the header, then inside the metadata
            handle.write(piece)
            handle.flush()
            assert list(reader.read()) == []
        handle.write(frame[30:])
    assert [e.record.request_id for _, e in reader.read()] == ["p"]
    journal.close()
    journal.unlock()


def test_bodies_and_stream_chunks_travel_as_raw_bytes_and_come_back_whole(tmp_path: Path) -> None:
    rec = record("s", ended=True)
    rec.request_body = b'{"messages":[{"content":"caf\xc3\xa9 \\n LRJ2"}]}\n\x00\xff'
    rec.response_body = b""
    rec.stream_chunks = [b'data: {"a":1}\n\n', b"", b"\xff\xfe not utf-8", b"data: [DONE]\n\n"]
    rec.chunk_offsets_ms = [1.0, 2.0, 3.0, 4.0]
    frame = encode_entry("full", rec)
    # No base64: the bodies are in the frame as they are.
    assert rec.request_body in frame
    assert b"\xff\xfe not utf-8" in frame
    journal = Journal(tmp_path)
    journal.open()
    for kind in ("start", "end", "full"):
        journal.stage(kind, rec)
    journal.flush()
    (_, start), (_, end), (_, full) = list(JournalReader(tmp_path).read())
    # A start leaves the response out, an end the request body; a full entry is the whole record.
    assert (start.kind, start.record.request_body, start.record.stream_chunks) == ("start", rec.request_body, [])
    assert (end.kind, end.record.request_body, end.record.stream_chunks) == ("end", b"", rec.stream_chunks)
    assert (full.kind, full.record) == ("full", rec)
    # Encoding left the caller's record as it was.
    assert rec.request_body.endswith(b"\x00\xff")
    assert len(rec.stream_chunks) == 4
    journal.close()
    journal.unlock()


def test_segments_of_the_earlier_line_format_are_still_read(tmp_path: Path) -> None:
    legacy = tmp_path / "journal-00000001.jsonl"
    lines = [
        msgspec.json.encode({"kind": "start", "record": record("old")}),
        msgspec.json.encode({"kind": "end", "record": record("old", ended=True)}),
    ]
    legacy.write_bytes(b"\n".join(lines) + b"\n")
    journal = Journal(tmp_path)
    second = journal.open()
    assert second == 2
    journal.stage("start", record("new"))
    journal.flush()
    reader = JournalReader(tmp_path)
    got = [(seg, e.kind, e.record.request_id) for seg, e in reader.read()]
    assert got == [(1, "start", "old"), (1, "end", "old"), (2, "start", "new")]
    assert reader.completed == [1]
    assert segment_path(tmp_path, 1) == legacy
    journal.close()
    journal.unlock()


def test_a_damaged_appended_segment_is_skipped_from_the_damage_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path, rotate_secs=3600, mapped=False)
    first = journal.open()
    journal.stage("start", record("before"))
    journal.flush()
    with open(segment_path(tmp_path, first), "ab") as handle:
        handle.write(b"garbage that is not a frame header" * 3)
        handle.write(encode_entry("start", record("lost")))
    journal.rotate()
    journal.stage("start", record("after"))
    journal.flush()
    got = [e.record.request_id for _, e in JournalReader(tmp_path).read()]
    assert got == ["before", "after"]
    assert "damaged" in caplog.text
    journal.close()
    journal.unlock()


def _commit(path: Path, offset: int) -> None:
    """Store a mapped segment's commit offset the way the gateway does (a native 8-byte word at byte 8)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, offset.to_bytes(8, sys.byteorder), 8)
    finally:
        os.close(fd)


def test_a_mapped_frame_is_read_only_once_committed(tmp_path: Path) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    journal.stage("start", record("a"))
    journal.flush()
    path = segment_path(tmp_path, first)
    assert path.suffix == ".lrm"
    assert path.stat().st_size == SEGMENT_BYTES
    reader = JournalReader(tmp_path)
    assert [e.record.request_id for _, e in reader.read()] == ["a"]
    # A frame copied in but not committed yet (or left so by a killed gateway) is not there for readers.
    end = reader.offset
    frame = encode_entry("start", record("p"))
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, frame, end)
    os.close(fd)
    assert list(reader.read()) == []
    _commit(path, end + len(frame))
    assert [e.record.request_id for _, e in reader.read()] == ["p"]
    journal.close()
    journal.unlock()


def test_an_uncommitted_frame_left_by_a_killed_gateway_is_not_read_as_torn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    journal.stage("full", record("done", ended=True))
    journal.flush()
    reader = JournalReader(tmp_path)
    assert [e.record.request_id for _, e in reader.read()] == ["done"]
    fd = os.open(segment_path(tmp_path, first), os.O_WRONLY)
    os.pwrite(fd, encode_entry("start", record("half"))[:100], reader.offset)
    os.close(fd)
    journal.rotate()  # what a restarted gateway does: a later segment
    journal.stage("start", record("next"))
    journal.flush()
    assert [(s, e.record.request_id) for s, e in reader.read()] == [(first + 1, "next")]
    assert reader.completed == [first]
    assert "torn" not in caplog.text
    journal.close()
    journal.unlock()


def test_a_mapped_segment_with_a_bad_commit_offset_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    journal.stage("start", record("lost"))
    journal.flush()
    _commit(segment_path(tmp_path, first), SEGMENT_BYTES + 1)
    journal.rotate()
    journal.stage("start", record("after"))
    journal.flush()
    assert [e.record.request_id for _, e in JournalReader(tmp_path).read()] == ["after"]
    assert "outside the segment" in caplog.text
    journal.close()
    journal.unlock()


async def test_recorded_segments_are_written_again_as_spares(tmp_path: Path) -> None:
    directory = tmp_path / "j"
    journal = Journal(directory, rotate_secs=3600)
    first = journal.open()
    recorder = Recorder([], spool_dir=tmp_path / "spool")
    await recorder.start()
    consumer = JournalConsumer(directory, recorder, first_live_segment=first)
    for name in ("a", "b", "c"):
        journal.stage("full", record(name, ended=True))
        journal.rotate()
    consumer.step()
    await recorder.flush()
    consumer.delete(consumer.deletable())
    # Two recorded segments are kept as spares (MAX_SPARES), the third is deleted.
    spares = sorted(directory.glob("spare-*.lrm"))
    assert len(spares) == MAX_SPARES
    assert segments(directory) == [first + 3]
    inodes = {p.stat().st_ino for p in spares}
    # The next segments are the spares renamed back; what they held before is never read again.
    for name in ("d", "e"):
        journal.stage("full", record(name, ended=True))
        journal.rotate()
    assert not list(directory.glob("spare-*"))
    assert {segment_path(directory, n).stat().st_ino for n in (first + 4, first + 5)} == inodes
    journal.stage("full", record("f", ended=True))
    journal.flush()
    got = [(s, e.record.request_id) for s, e in consumer.reader.read()]
    assert got == [(first + 3, "d"), (first + 4, "e"), (first + 5, "f")]
    await recorder.aclose()
    journal.close()
    journal.unlock()


def test_an_entry_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    journal.stage("start", record("small"))
    journal.flush()
    big = record("big")
    big.request_body = b"x" * (SEGMENT_BYTES + 12345)
    journal.stage("start", big)
    journal.flush()
    assert segment_path(tmp_path, first + 1).stat().st_size > SEGMENT_BYTES
    got = [(s, e.record.request_id, len(e.record.request_body)) for s, e in JournalReader(tmp_path).read(64 << 20)]
    assert got == [(first, "small", len(record("small").request_body)), (first + 1, "big", SEGMENT_BYTES + 12345)]
    # Only segments of the standard size are kept as spares.
    discard(tmp_path, first + 1)
    assert not segment_path(tmp_path, first + 1).exists()
    assert not list(tmp_path.glob("spare-*"))
    journal.close()
    journal.unlock()


def test_where_files_cannot_be_mapped_frames_are_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_mapping(*_: object, **__: object) -> mmap.mmap:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(mmap, "mmap", no_mapping)
    journal = Journal(tmp_path)
    first = journal.open()
    assert "appending to them instead" in caplog.text
    journal.stage("start", record("a"))
    journal.flush()
    assert segment_path(tmp_path, first).suffix == ".lrj"
    assert not list(tmp_path.glob("new-*"))
    monkeypatch.undo()
    assert [e.record.request_id for _, e in JournalReader(tmp_path).read()] == ["a"]
    journal.close()
    journal.unlock()


def test_no_space_for_a_new_segment_falls_back_to_appending_until_there_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def disk_full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch, caplog.at_level(logging.DEBUG, logger="lunaroute.recording.journal"):
        patch.setattr(os, "posix_fallocate", disk_full)
        journal = Journal(tmp_path, rotate_secs=3600)
        first = journal.open()
        journal.stage("start", record("a"))
        journal.flush()
    assert "no space for a journal segment" in caplog.text
    assert segment_path(tmp_path, first).suffix == ".lrj"
    assert not list(tmp_path.glob("new-*"))
    journal.rotate()  # space again: the next segment is mapped
    journal.stage("start", record("b"))
    journal.flush()
    assert segment_path(tmp_path, first + 1).suffix == ".lrm"
    got = [(s, e.record.request_id) for s, e in JournalReader(tmp_path).read()]
    assert got == [(first, "a"), (first + 1, "b")]
    journal.close()
    journal.unlock()


def test_a_disk_with_room_for_less_than_a_standard_segment_gets_a_smaller_mapped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserve = os.posix_fallocate

    def little_room(fd: int, offset: int, size: int) -> None:
        if size > 1 << 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        reserve(fd, offset, size)

    monkeypatch.setattr(os, "posix_fallocate", little_room)
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    journal.stage("start", record("a"))
    journal.flush()
    path = segment_path(tmp_path, first)
    assert path.suffix == ".lrm"
    assert path.stat().st_size == 1 << 20
    monkeypatch.undo()
    journal.rotate()  # room again: a standard segment
    journal.stage("start", record("b"))
    journal.flush()
    assert segment_path(tmp_path, first + 1).stat().st_size == SEGMENT_BYTES
    assert [e.record.request_id for _, e in JournalReader(tmp_path).read()] == ["a", "b"]
    journal.close()
    journal.unlock()


def test_frames_of_the_earlier_version_with_json_metadata_are_still_read(tmp_path: Path) -> None:
    rec = record("v2")
    body = rec.request_body
    rec.request_body = b""
    meta = msgspec.json.encode({"kind": "start", "record": rec, "request_len": len(body)})
    frame = struct.pack("<4sII", b"LRJ2", len(meta), len(body)) + meta + body
    (tmp_path / "journal-00000001.lrj").write_bytes(frame)
    journal = Journal(tmp_path)
    assert journal.open() == 2
    journal.stage("start", record("v3"))
    journal.flush()
    got = [(s, e.record.request_id, e.record.request_body) for s, e in JournalReader(tmp_path).read()]
    assert got == [(1, "v2", body), (2, "v3", body)]
    journal.close()
    journal.unlock()


def _resident_kib(path: Path) -> int:
    """How much of `path`'s mapping in this process is resident (from /proc/self/smaps)."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for at, line in enumerate(lines):
        if line.endswith(str(path)):
            rss = next(v for v in lines[at + 1 :] if v.startswith("Rss:"))
            return int(rss.split()[1])
    raise AssertionError(f"{path} is not mapped")


def _linux_at_least(major: int, minor: int) -> bool:
    if sys.platform != "linux":
        return False
    numbers = os.uname().release.split("-")[0].split(".")
    return (int(numbers[0]), int(numbers[1])) >= (major, minor)


@pytest.mark.skipif(not _linux_at_least(5, 14), reason="MADV_POPULATE_WRITE came with Linux 5.14")
def test_pages_ahead_of_the_copies_are_made_writable_in_one_call(tmp_path: Path) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    path = segment_path(tmp_path, first)
    assert _resident_kib(path) == 0
    journal.stage("start", record("a"))
    journal.flush()
    # One small entry, and the next 256 KiB are mapped writable already.
    assert _resident_kib(path) >= 256
    journal.close()
    journal.unlock()


def test_a_new_segment_file_a_killed_gateway_left_unnamed_is_removed(tmp_path: Path) -> None:
    left = tmp_path / "new-4242.lrm"
    left.write_bytes(bytes(4096))
    journal = Journal(tmp_path)
    first = journal.open()
    assert not left.exists()
    assert segments(tmp_path) == [first]
    journal.close()
    journal.unlock()


def test_a_spare_is_written_again_through_the_mapping_the_gateway_kept(tmp_path: Path) -> None:
    pool = MappedPool(tmp_path)
    first = pool.create(1)
    first.append(bytearray(encode_entry("start", record("a"))))
    pool.retire(first)
    discard(tmp_path, 1)  # recorded: the recorder gives it back as a spare
    again = pool.create(2)
    assert again is first
    assert again.number == 2
    assert segment_path(tmp_path, 2).stat().st_size == SEGMENT_BYTES
    # Emptied for its new use: what it held before is not read again.
    again.append(bytearray(encode_entry("start", record("b"))))
    assert [(s, e.record.request_id) for s, e in JournalReader(tmp_path).read()] == [(2, "b")]
    # A new file when there is no spare; at most MAX_SPARES + 1 mappings are kept.
    others = [pool.create(n) for n in range(3, 3 + MAX_SPARES + 2)]
    assert all(o is not first for o in others)
    for segment in (again, *others):
        pool.retire(segment)
    assert len(list(tmp_path.glob("journal-*.lrm"))) == MAX_SPARES + 3
    if sys.platform == "linux":
        assert len(_mapped_files(tmp_path)) == MAX_SPARES + 1
    pool.close()
    if sys.platform == "linux":
        assert _mapped_files(tmp_path) == set()


def _mapped_files(directory: Path) -> set[str]:
    """The files under `directory` this process has mapped (from /proc/self/maps)."""
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if str(directory) in line}


def test_a_spare_keeps_no_exchange(tmp_path: Path) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    secret = record("private")
    secret.request_body = b'{"messages":[{"content":"the launch code is 0000"}]}'
    journal.stage("start", secret)
    journal.rotate()
    discard(tmp_path, first)
    [spare] = tmp_path.glob("spare-*.lrm")
    data = spare.read_bytes()
    assert b"launch code" not in data
    assert b"private" not in data
    assert data[64:] == bytes(len(data) - 64)
    journal.close()
    journal.unlock()
