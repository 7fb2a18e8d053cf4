"""The durable local spool: an fsync'd append-only JSONL file of events plus a durable replay offset.

The recorder keeps one spool per writer (events that writer failed to take, replayed when it recovers) and
overflow spools (events that arrived while the in-memory queue was full). A spool is read from its committed
offset in chunks; `commit(offset)` records progress durably, and the spool files are removed once everything
was replayed. A crash between a successful replay and its commit replays that chunk again, which the writers'
idempotent upserts absorb.

All methods block; the recorder calls them from a worker thread, except `append_nowait` (see there).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from lunaroute.recording._fsio import ensure_dir, fsync_dir, open_append, write_all
from lunaroute.recording.codec import decode_event
from lunaroute.recording.events import SessionEvent

__all__ = ["Spool", "SpoolChunk"]

_log = logging.getLogger("lunaroute.recording.spool")
_OFFSET_WIDTH = 20


@dataclass(slots=True)
class SpoolChunk:
    """Events read from a spool, the offset just past them, and how many unreadable lines were skipped."""

    events: list[SessionEvent] = field(default_factory=list)
    end_offset: int = 0
    bad_lines: int = 0


class Spool:
    """One spool file `path` and its offset file `path + ".offset"`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_path = path.with_name(path.name + ".offset")
        self._fd: int | None = None
        self._dir_unsynced = False

    def _append_fd(self) -> int:
        if self._fd is None:
            ensure_dir(self.path.parent)
            self._fd, created = open_append(self.path)
            self._dir_unsynced = self._dir_unsynced or created
        return self._fd

    def append(self, lines: Sequence[bytes], *, sync: bool = True) -> None:
        """Append complete JSONL records (each ending in a newline) in one write, then fsync."""
        write_all(self._append_fd(), b"".join(lines))
        if sync:
            self.sync()

    def append_nowait(self, line: bytes) -> None:
        """Append one record without fsync: a page-cache write (survives a process crash, not a power loss).

        Used on the request path when the queue is full; `sync()` makes it durable later.
        """
        write_all(self._append_fd(), line)

    def sync(self) -> None:
        """fsync the file, and its directory when the file was created since the last sync."""
        if self._fd is not None:
            os.fsync(self._fd)
        if self._dir_unsynced:
            fsync_dir(self.path.parent)
            self._dir_unsynced = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def exists(self) -> bool:
        return self.path.exists()

    def committed_offset(self) -> int:
        try:
            return int(self.offset_path.read_bytes().strip() or b"0")
        except (FileNotFoundError, ValueError):
            return 0

    def pending(self) -> bool:
        """True when the spool holds records past its committed offset."""
        try:
            return self.path.stat().st_size > self.committed_offset()
        except FileNotFoundError:
            return False

    def recover(self) -> int:
        """Cut a torn last record (no trailing newline, left by a crash mid-append); return bytes dropped."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size == 0:
            return 0
        with open(self.path, "rb") as f:
            f.seek(max(0, size - 1))
            if f.read(1) == b"\n":
                return 0
            f.seek(0)
            data = f.read()
        keep = data.rfind(b"\n") + 1
        _log.warning("spool %s: dropping a torn last record of %d bytes", self.path, size - keep)
        with open(self.path, "r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
        return size - keep

    def read(self, max_events: int, offset: int | None = None) -> SpoolChunk:
        """Up to `max_events` complete records from `offset` (default: the committed offset)."""
        start = self.committed_offset() if offset is None else offset
        chunk = SpoolChunk(end_offset=start)
        if not self.path.exists():
            return chunk
        with open(self.path, "rb") as f:
            f.seek(start)
            while len(chunk.events) < max_events:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break
                at = chunk.end_offset
                chunk.end_offset += len(line)
                try:
                    chunk.events.append(decode_event(line))
                except msgspec.DecodeError as exc:
                    chunk.bad_lines += 1
                    _log.error("spool %s: unreadable record at offset %d skipped: %s", self.path, at, exc)
        return chunk

    def commit(self, offset: int) -> None:
        """Durably record that everything before `offset` was replayed; remove the spool once all was."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if offset >= size:
            self.remove()
            return
        fd, _ = open_append(self.offset_path)
        os.close(fd)
        fd = os.open(self.offset_path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.pwrite(fd, str(offset).rjust(_OFFSET_WIDTH).encode(), 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def remove(self) -> None:
        self.close()
        for p in (self.path, self.offset_path):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        if self.path.parent.exists():
            fsync_dir(self.path.parent)
