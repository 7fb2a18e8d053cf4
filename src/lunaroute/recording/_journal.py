"""The capture journal: every exchange the server saw, appended before the client is told it is done.

Each entry is one frame written with a single `write()` to the current segment file, so it survives the gateway
process being killed (it is in the page cache). A frame is a 12-byte header (`LRJ2`, the length of its metadata,
the length of its payload), the metadata as JSON (`kind` and the `ExchangeRecord` without its bodies, plus the
lengths of the bodies) and the bodies as raw bytes: no base64, no escaping, so the gateway's cost per exchange is
one small JSON encode and one copy. A start entry carries the request body; its end entry leaves the body out.
The gateway only appends; the recorder process (`recording.worker`) reads the segments in order, derives the
session events, and deletes a segment once everything derived from it is flushed. Segments are numbered; the
writer closes one before it creates the next, so a reader that sees a later segment knows the earlier one is
complete. Segments of the earlier format (one JSON line per entry, `journal-<n>.jsonl`), left by a gateway that
stopped before they were recorded, are still read.

One gateway at a time owns a journal directory: `open()` takes an exclusive `flock` on `<directory>/lock`, which
the recorder process inherits, so a restarted gateway waits until the previous run's recorder has finished.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec

from lunaroute.errors import ConfigError
from lunaroute.types import ExchangeRecord

__all__ = ["Journal", "JournalEntry", "JournalReader", "segment_path", "segments"]

_log = logging.getLogger("lunaroute.recording.journal")
_LOCK_POLL_SECS = 0.05


Kind = Literal["start", "end", "full"]
"""`start`: the exchange began (with the request body); `end`: it ended (without it); `full`: both at once."""


class JournalEntry(msgspec.Struct, frozen=True):
    kind: Kind
    record: ExchangeRecord


class _Meta(msgspec.Struct, frozen=True):
    """A frame's metadata: the record without its bodies, and the lengths of the bodies in the payload (request
    body, response body, then each stream chunk)."""

    kind: Kind
    record: ExchangeRecord
    request_len: int = 0
    response_len: int = 0
    chunk_lens: list[int] = []


MAGIC = b"LRJ2"
_HEADER = struct.Struct("<4sII")
_SUFFIX = ".lrj"
_LEGACY_SUFFIX = ".jsonl"
_MAX_META = 64 << 20
"""A frame header announcing more metadata than this is damage, not an entry."""

_encoder = msgspec.json.Encoder()
_meta_decoder = msgspec.json.Decoder(_Meta)
_legacy_decoder = msgspec.json.Decoder(JournalEntry)


def segment_path(directory: Path, segment: int) -> Path:
    """The file of segment `segment` (of the earlier line format when only that exists)."""
    path = directory / f"journal-{segment:08d}{_SUFFIX}"
    if path.exists():
        return path
    legacy = directory / f"journal-{segment:08d}{_LEGACY_SUFFIX}"
    return legacy if legacy.exists() else path


def segments(directory: Path) -> list[int]:
    """The numbers of the segments in `directory`, ascending."""
    found = set()
    for path in directory.glob("journal-*"):
        if path.suffix not in (_SUFFIX, _LEGACY_SUFFIX):
            continue
        stem = path.stem.removeprefix("journal-")
        if stem.isdigit():
            found.add(int(stem))
    return sorted(found)


def encode_entry(kind: Kind, record: ExchangeRecord) -> bytes:
    """One frame. The record's bodies travel as raw payload bytes; an end entry leaves the request body out, a
    start entry the response."""
    saved = record.request_body, record.response_body, record.stream_chunks
    request = saved[0] if kind != "end" else b""
    response, chunks = (b"", []) if kind == "start" else (saved[1], saved[2])
    record.request_body, record.response_body, record.stream_chunks = b"", b"", []
    try:
        meta = _encoder.encode(
            _Meta(kind, record, len(request), len(response), [len(c) for c in chunks] if chunks else [])
        )
    finally:
        record.request_body, record.response_body, record.stream_chunks = saved
    payload_len = len(request) + len(response) + sum(map(len, chunks))
    return b"".join((_HEADER.pack(MAGIC, len(meta), payload_len), meta, request, response, *chunks))


def _decode_frame(meta_bytes: bytes, payload: memoryview) -> JournalEntry:
    meta = _meta_decoder.decode(meta_bytes)
    record = meta.record
    at = meta.request_len + meta.response_len
    if at + sum(meta.chunk_lens) != len(payload):
        raise ValueError("the payload lengths do not add up")
    record.request_body = bytes(payload[: meta.request_len])
    record.response_body = bytes(payload[meta.request_len : at])
    chunks = []
    for size in meta.chunk_lens:
        chunks.append(bytes(payload[at : at + size]))
        at += size
    record.stream_chunks = chunks
    return JournalEntry(meta.kind, record)


class Journal:
    """The writing side: append-only segments `journal-<n>.jsonl` in `directory` (created 0700; files 0600)."""

    def __init__(self, directory: Path, *, rotate_secs: float = 1.0) -> None:
        self.directory = directory
        self._rotate_secs = rotate_secs
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._segment = 0
        self._segment_bytes = 0
        self._opened_at = 0.0
        self._staged: list[bytes] = []
        self._sizes: dict[int, int] = {}
        self._damaged = False
        """A write failed part-way: the next flush starts a new segment, so a torn frame is only ever last."""

    def open(self, *, lock_timeout_secs: float = 60.0) -> int:
        """Take the directory's lock, create a fresh segment and return its number (the first of this run)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_fd = _lock(self.directory / "lock", lock_timeout_secs)
        existing = segments(self.directory)
        self._segment = existing[-1] + 1 if existing else 1
        self._open_segment()
        return self._segment

    @property
    def lock_fd(self) -> int:
        """The locked file descriptor, for the recorder process to inherit."""
        if self._lock_fd is None:
            raise RuntimeError("journal is not open")
        return self._lock_fd

    def _open_segment(self) -> None:
        path = self.directory / f"journal-{self._segment:08d}{_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment_bytes = 0
        self._opened_at = time.monotonic()

    def stage(self, kind: Kind, record: ExchangeRecord) -> None:
        """Encode an entry now and write it with the next `flush` (starts need no write of their own: what must
        reach the file before a client is answered is the end of its exchange). An end entry leaves the request
        body out: its start entry, earlier in the journal, has it."""
        self._staged.append(encode_entry(kind, record))

    def flush(self) -> None:
        """Write whatever is staged with one `write()`; start a new segment when this one is old enough."""
        if not self._staged:
            return
        if self._fd is None:
            raise RuntimeError("journal is not open")
        if self._damaged:
            self._damaged = False
            self._next_segment()
            assert self._fd is not None
        frames, self._staged = self._staged, []
        data = b"".join(frames) if len(frames) > 1 else frames[0]
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            self._damaged = len(view) < len(data)
            raise
        self._segment_bytes += len(data)
        self._sizes[self._segment] = self._segment_bytes
        if time.monotonic() - self._opened_at >= self._rotate_secs:
            self.rotate()

    def bytes_after(self, segment: int, offset: int) -> int:
        """How many bytes this run wrote after position (`segment`, `offset`)."""
        for number in [n for n in self._sizes if n < segment]:
            del self._sizes[number]
        return sum(size for n, size in self._sizes.items() if n > segment) + max(
            0, self._sizes.get(segment, 0) - offset
        )

    def rotate(self) -> None:
        """Close the current segment (when it holds anything) and start the next."""
        self.flush()
        if self._segment_bytes == 0 or self._fd is None:
            return
        self._next_segment()

    def _next_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._segment += 1
        self._open_segment()

    def close(self) -> None:
        """Write what is staged and close the segment (the lock is released by `unlock`)."""
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _lock(path: Path, timeout_secs: float) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout_secs
    warned = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise ConfigError(
                    f"session_recording.journal_directory: {path.parent} is in use by another gateway "
                    "(or its recorder is still finishing); give each gateway its own directory"
                ) from None
            if not warned:
                _log.warning("waiting for the previous recorder to finish with %s", path.parent)
                warned = True
            time.sleep(_LOCK_POLL_SECS)


class JournalReader:
    """The reading side: follows the segments in order from the oldest, as they are written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        existing = segments(directory)
        self.segment = existing[0] if existing else 0
        self.offset = 0
        self._partial = b""
        self._path: Path | None = None
        self._skip_rest = False
        self.completed: list[int] = []
        """Segments read to their end (closed by the writer), oldest first."""

    def read(self, max_bytes: int = 4 << 20) -> Iterator[tuple[int, JournalEntry]]:
        """The entries written since the last call, each with its segment number; a torn or unreadable entry is
        logged and skipped. Reads at most about `max_bytes` per call."""
        budget = max_bytes
        while budget > 0:
            later = [n for n in segments(self.directory) if n > self.segment]
            data = self._read_current(budget)
            budget -= len(data)
            yield from self._entries(data)
            if len(data) and budget <= 0:
                return
            if not later:
                return
            # The writer closed this segment before it created a later one: what was read is all of it.
            more = self._read_current(budget)
            if more:
                budget -= len(more)
                yield from self._entries(more)
                if budget <= 0:
                    return
            if self._partial:
                _log.warning("journal segment %d: torn last entry skipped", self.segment)
                self._partial = b""
            self.completed.append(self.segment)
            self.segment, self.offset = later[0], 0
            self._path, self._skip_rest = None, False

    def _read_current(self, budget: int) -> bytes:
        if self._path is None:
            self._path = segment_path(self.directory, self.segment)
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            self._path = None
            return b""
        try:
            data = os.pread(fd, budget, self.offset)
        finally:
            os.close(fd)
        self.offset += len(data)
        return data

    def _entries(self, data: bytes) -> Iterator[tuple[int, JournalEntry]]:
        if not data or self._skip_rest:
            return
        if self._partial:
            data, self._partial = self._partial + data, b""
        if self._path is not None and self._path.suffix == _LEGACY_SUFFIX:
            yield from self._lines(data)
        else:
            yield from self._frames(data)

    def _frames(self, data: bytes) -> Iterator[tuple[int, JournalEntry]]:
        view = memoryview(data)
        at, end = 0, len(data)
        while end - at >= _HEADER.size:
            magic, meta_len, payload_len = _HEADER.unpack_from(view, at)
            if magic != MAGIC or meta_len > _MAX_META:
                _log.error(
                    "journal segment %d: damaged at byte %d; the rest of the segment is skipped",
                    self.segment,
                    self.offset - end + at,
                )
                self._skip_rest = True
                return
            stop = at + _HEADER.size + meta_len + payload_len
            if stop > end:
                break
            start = at + _HEADER.size
            try:
                entry = _decode_frame(data[start : start + meta_len], view[start + meta_len : stop])
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
                _log.warning("journal segment %d: unreadable entry skipped", self.segment)
            else:
                yield self.segment, entry
            at = stop
        self._partial = data[at:]

    def _lines(self, data: bytes) -> Iterator[tuple[int, JournalEntry]]:
        end = data.rfind(b"\n")
        if end < len(data) - 1:
            self._partial = data[end + 1 :]
            data = data[: end + 1]
        for line in data.splitlines():
            try:
                yield self.segment, _legacy_decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                _log.warning("journal segment %d: unreadable line skipped", self.segment)
