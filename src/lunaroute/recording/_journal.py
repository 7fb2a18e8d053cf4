"""The capture journal: every exchange the server saw, appended before the client is told it is done.

Each entry is one line (`{"kind": "start"|"end", "record": ExchangeRecord}` as JSON) written with a single
`write()` to the current segment file, so it survives the gateway process being killed (it is in the page
cache). A start entry carries the request
body; its end entry leaves the body out. The gateway only appends; the recorder process (`recording.worker`) reads
the segments in order, derives the session events, and deletes a segment once everything derived from it is
flushed. Segments are numbered; the writer closes one before it creates the next, so a reader that sees a later
segment knows the earlier one is complete.

One gateway at a time owns a journal directory: `open()` takes an exclusive `flock` on `<directory>/lock`, which
the recorder process inherits, so a restarted gateway waits until the previous run's recorder has finished.
"""

from __future__ import annotations

import fcntl
import logging
import os
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


class JournalEntry(msgspec.Struct, frozen=True):
    kind: Literal["start", "end"]
    record: ExchangeRecord


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JournalEntry)


def segment_path(directory: Path, segment: int) -> Path:
    return directory / f"journal-{segment:08d}.jsonl"


def segments(directory: Path) -> list[int]:
    """The numbers of the segments in `directory`, ascending."""
    found = []
    for path in directory.glob("journal-*.jsonl"):
        stem = path.stem.removeprefix("journal-")
        if stem.isdigit():
            found.append(int(stem))
    return sorted(found)


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
        path = segment_path(self.directory, self._segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment_bytes = 0
        self._opened_at = time.monotonic()

    def stage(self, kind: Literal["start", "end"], record: ExchangeRecord) -> None:
        """Encode an entry now and write it with the next `flush` (starts need no write of their own: what must
        reach the file before a client is answered is the end of its exchange). An end entry leaves the request
        body out: its start entry, earlier in the journal, has it."""
        if kind == "end" and record.request_body:
            body, record.request_body = record.request_body, b""
            try:
                self._staged.append(_encoder.encode(JournalEntry(kind, record)) + b"\n")
            finally:
                record.request_body = body
            return
        self._staged.append(_encoder.encode(JournalEntry(kind, record)) + b"\n")

    def flush(self) -> None:
        """Write whatever is staged with one `write()`; start a new segment when this one is old enough."""
        if not self._staged:
            return
        if self._fd is None:
            raise RuntimeError("journal is not open")
        lines, self._staged = self._staged, []
        data = b"".join(lines) if len(lines) > 1 else lines[0]
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
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
        self.completed: list[int] = []
        """Segments read to their end (closed by the writer), oldest first."""

    def read(self, max_bytes: int = 4 << 20) -> Iterator[tuple[int, JournalEntry]]:
        """The entries written since the last call, each with its segment number; a torn or unreadable line is
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
                _log.warning("journal segment %d: torn last line skipped", self.segment)
                self._partial = b""
            self.completed.append(self.segment)
            self.segment, self.offset = later[0], 0

    def _read_current(self, budget: int) -> bytes:
        try:
            fd = os.open(segment_path(self.directory, self.segment), os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            data = os.pread(fd, budget, self.offset)
        finally:
            os.close(fd)
        self.offset += len(data)
        return data

    def _entries(self, data: bytes) -> Iterator[tuple[int, JournalEntry]]:
        if not data:
            return
        if self._partial:
            data, self._partial = self._partial + data, b""
        end = data.rfind(b"\n")
        if end < len(data) - 1:
            self._partial = data[end + 1 :]
            data = data[: end + 1]
        if not data:
            return
        for line in data.splitlines():
            try:
                yield self.segment, _decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                _log.warning("journal segment %d: unreadable line skipped", self.segment)
