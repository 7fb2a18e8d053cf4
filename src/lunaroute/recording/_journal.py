"""The capture journal: every exchange the server saw, in the page cache before the client is told it is done.

Each entry is one frame (`_frames`), copied into the current segment (`_segments`): a memory-mapped file whose
frames are published by a single store of their end offset, so an entry survives the gateway process being killed
(it is in the page cache) and costs a copy, not a system call. The gateway only appends; the recorder process
(`recording.worker`) reads the segments in order, derives the session events, and recycles a segment once
everything derived from it is flushed. Segments are numbered; the writer never writes to a segment once a later
one exists, so a reader that sees a later segment knows the earlier one is complete. Where files cannot be
mapped, frames are appended to the segment file with `write()` instead.

One gateway at a time owns a journal directory: `open()` takes an exclusive `flock` on `<directory>/lock`, which
the recorder process inherits, so a restarted gateway waits until the previous run's recorder has finished.
With `serve --workers N` each worker writes a journal of its own (a lane, `<directory>/worker-<i>`), the
supervising process holds `<directory>/lock` and its recorder follows every lane (`recording._lanes`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from lunaroute.errors import ConfigError
from lunaroute.recording._frames import Kind, encode_frame_into
from lunaroute.recording._segments import (
    APPENDED,
    MappedPool,
    MappedSegment,
    is_no_space,
    remove_unfinished,
    segments,
)
from lunaroute.types import ExchangeRecord

__all__ = ["Journal", "lock_directory"]

_log = logging.getLogger("lunaroute.recording.journal")
_LOCK_POLL_SECS = 0.05


class Journal:
    """The writing side: numbered segments in `directory` (created 0700; files 0600). `mapped=False` appends to
    the segment files instead of mapping them (what the journal falls back to where mapping fails)."""

    def __init__(self, directory: Path, *, rotate_secs: float = 1.0, mapped: bool = True) -> None:
        self.directory = directory
        self._rotate_secs = rotate_secs
        self._mapped = mapped
        self._lock_fd: int | None = None
        self._segment = 0
        self._map: MappedSegment | None = None
        self._pool = MappedPool(directory)
        self._fd: int | None = None
        """The current segment when it is appended to rather than mapped."""
        self._segment_bytes = 0
        self._opened_at = 0.0
        self._staged = bytearray()
        """Frames encoded and not written yet."""
        self._sizes: dict[int, int] = {}
        self._damaged = False
        """An append failed part-way: the next flush starts a new segment, so a torn frame is only ever last."""

    def open(
        self, *, lock_timeout_secs: float = 60.0, first_segment: int = 1, owner: tuple[str, int] | None = None
    ) -> int:
        """Take the directory's lock, create a fresh segment and return its number (the first of this run): the
        one after every existing segment, and at least `first_segment` (what the recorder was told to expect).
        `owner` is the gateway's listener (see `lock_directory`)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_fd = lock_directory(self.directory, lock_timeout_secs, owner)
        remove_unfinished(self.directory)
        existing = segments(self.directory)
        self._segment = max((existing[-1] if existing else 0) + 1, first_segment)
        self._open_segment(self._segment)
        return self._segment

    @property
    def lock_fd(self) -> int:
        """The locked file descriptor, for the recorder process to inherit."""
        if self._lock_fd is None:
            raise RuntimeError("journal is not open")
        return self._lock_fd

    def _open_segment(self, number: int, need: int = 0) -> None:
        """Make segment `number` the current one (mapped if possible). On failure the previous one stays current."""
        if self._mapped:
            try:
                segment = self._pool.create(number, need)
            except OSError as exc:
                if not is_no_space(exc):
                    _log.warning(
                        "cannot map journal segments in %s (%s); appending to them instead", self.directory, exc
                    )
                    self._mapped = False
                else:
                    # Reported once per episode by the capture's owner (`/readyz`, metrics), not per attempt.
                    _log.debug("no space for a journal segment in %s: %s", self.directory, exc)
            else:
                self._close_current()
                self._map = segment
                self._start(number)
                return
        fd = os.open(self.directory / f"journal-{number:08d}{APPENDED}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._close_current()
        self._fd = fd
        self._start(number)

    def _start(self, number: int) -> None:
        self._segment = number
        self._segment_bytes = 0
        self._opened_at = time.monotonic()

    def _close_current(self) -> None:
        if self._map is not None:
            self._pool.retire(self._map)
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def stage(self, kind: Kind, record: ExchangeRecord) -> None:
        """Encode an entry now and write it with the next `flush` (starts need no write of their own: what must
        reach the journal before a client is answered is the end of its exchange). An end entry leaves the
        request body out: its start entry, earlier in the journal, has it."""
        encode_frame_into(kind, record, self._staged)

    def flush(self) -> None:
        """Write whatever is staged; start a new segment first when this one is old enough or too full."""
        if not self._staged:
            return
        if self._map is None and self._fd is None:
            raise RuntimeError("journal is not open")
        staged = self._staged
        self._staged = bytearray()
        size = len(staged)
        segment = self._map
        needed = self._damaged or (segment is not None and segment.capacity - segment.end < size)
        if needed or (self._segment_bytes > 0 and time.monotonic() - self._opened_at >= self._rotate_secs):
            try:
                self._open_segment(self._segment + 1, size)
            except OSError:
                if needed:
                    raise
                self._opened_at = time.monotonic()  # try again a rotation later
                _log.exception("could not start a new journal segment; writing on in segment %d", self._segment)
            else:
                self._damaged = False
            segment = self._map
        if segment is not None and segment.capacity - segment.end >= size:
            segment.append(staged)
            self._segment_bytes += size
            self._sizes[self._segment] = segment.end
            return
        if self._fd is None:
            raise OSError(f"no room in journal segment {self._segment} for an entry of {size} bytes")
        self._append(staged)

    def _append(self, data: bytearray) -> None:
        assert self._fd is not None
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

    def bytes_after(self, segment: int, offset: int) -> int:
        """How many bytes this run wrote after position (`segment`, `offset`)."""
        for number in [n for n in self._sizes if n < segment]:
            del self._sizes[number]
        return sum(size for n, size in self._sizes.items() if n > segment) + max(
            0, self._sizes.get(segment, 0) - offset
        )

    def rotate(self) -> None:
        """Write what is staged, then start the next segment (when this one holds anything)."""
        self.flush()
        if self._segment_bytes and (self._map is not None or self._fd is not None):
            self._open_segment(self._segment + 1)

    def close(self) -> None:
        """Write what is staged and close the segment (the lock is released by `unlock`)."""
        self.flush()
        self._close_current()
        self._pool.close()

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _serving_holder(fd: int) -> tuple[int, int] | None:
    """(pid, port) of the gateway named in the lock file of `fd` when it is alive and its listener answers."""
    try:
        holder = json.loads(os.pread(fd, 512, 0) or b"null")
        pid, host, port = int(holder["pid"]), str(holder["host"]), int(holder["port"])
        if pid == os.getpid():
            return None  # an earlier gateway of this very process, still closing (tests, an app rebuilt)
        os.kill(pid, 0)
    except (ValueError, TypeError, KeyError, OSError):
        return None  # no owner written (a recorder, an older gateway), or it is gone
    probe = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    try:
        with socket.create_connection((probe, port), timeout=0.5):
            return pid, port
    except OSError:
        return None  # its listener is closed: it is stopping, and its recorder finishing


def lock_directory(directory: Path, timeout_secs: float = 60.0, owner: tuple[str, int] | None = None) -> int:
    """Take the exclusive lock of a journal directory (`<directory>/lock`), waiting up to `timeout_secs` for the
    gateway (or recorder) holding it; return the locked descriptor. Raises `ConfigError` when it stays taken.

    `owner` (the gateway's listener host and port) is written in the lock file with the pid. A gateway that finds
    the lock taken by one still serving on its listener fails at once, naming it, instead of waiting: only a
    gateway that is stopping (its listener closed, its recorder finishing) is worth waiting for."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout_secs
    warned = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if owner is not None:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": owner[0], "port": owner[1]}).encode(), 0)
            return fd
        except BlockingIOError:
            serving = _serving_holder(fd)
            if serving is not None:
                os.close(fd)
                raise ConfigError(
                    f"session_recording.journal_directory: {path.parent} is in use by the gateway with pid "
                    f"{serving[0]}, serving on port {serving[1]}; give this one its own LUNAROUTE_HOME (or "
                    "journal_directory), or stop that one"
                ) from None
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
