"""`JournalReader`: follows the journal's segments in order, from the oldest, as the gateway writes them."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import msgspec

from lunaroute.recording._frames import JournalEntry, split_frames
from lunaroute.recording._segments import LEGACY, MAPPED, MappedView, segment_path, segments

__all__ = ["JournalReader"]

_log = logging.getLogger("lunaroute.recording.journal")
_legacy_decoder = msgspec.json.Decoder(JournalEntry)


class _Source(Protocol):
    start: int

    def read(self, offset: int, budget: int) -> bytes: ...

    def close(self) -> None: ...


class _Appended:
    """A segment the gateway appends to: everything in the file, up to its end."""

    start = 0

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, offset: int, budget: int) -> bytes:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            return os.pread(fd, budget, offset)
        finally:
            os.close(fd)

    def close(self) -> None:
        return None


class JournalReader:
    """The reading side: yields each entry once, in the order it was written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        existing = segments(directory)
        self.segment = existing[0] if existing else 0
        self.offset = 0
        self._partial = b""
        self._source: _Source | None = None
        self._legacy = False
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
            # The writer never writes to a segment once a later one exists: what was read is all of it.
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
            self.release()
            self.segment, self.offset = later[0], 0
            self._skip_rest = False

    def release(self) -> None:
        """Let go of the current segment's file (it is opened again on the next read)."""
        if self._source is not None:
            self._source.close()
            self._source = None

    def _read_current(self, budget: int) -> bytes:
        if self._skip_rest:
            return b""
        if self._source is None:
            self._source = self._open()
            if self._source is None:
                return b""
            self.offset = max(self.offset, self._source.start)
        try:
            data = self._source.read(self.offset, budget)
        except ValueError as exc:
            self._damaged(str(exc))
            return b""
        self.offset += len(data)
        return data

    def _open(self) -> _Source | None:
        path = segment_path(self.directory, self.segment)
        self._legacy = path.suffix == LEGACY
        if path.suffix != MAPPED:
            return _Appended(path)
        try:
            return MappedView(path)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            self._damaged(str(exc))
            return None

    def _damaged(self, what: str) -> None:
        _log.error("journal segment %d: %s; the rest of the segment is skipped", self.segment, what)
        self._skip_rest = True
        self._partial = b""

    def _entries(self, data: bytes) -> Iterator[tuple[int, JournalEntry]]:
        if not data or self._skip_rest:
            return
        if self._partial:
            data, self._partial = self._partial + data, b""
        if self._legacy:
            yield from self._lines(data)
            return
        split = split_frames(data, self.segment)
        for entry in split.entries:
            yield self.segment, entry
        if split.damaged_at is not None:
            self._damaged(f"damaged at byte {self.offset - len(data) + split.damaged_at}")
            return
        self._partial = data[split.consumed :]

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
