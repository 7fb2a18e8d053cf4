"""The JSONL session writer: one append-only file per session, `<dir>/<YYYY-MM-DD>/<session_id>.jsonl`.

The date is the UTC date the session started (its first event this writer saw; after a restart, an existing
file of the session up to `lookback_days` back is reused), so a session crossing midnight stays in one file.
Directories are created 0700 and files 0600 whatever the umask. Each batch is encoded and written in a
worker thread: the lines of one file go out in one `write()` on an `O_APPEND` descriptor, under a lock, so
records never interleave; nothing is buffered in user space, so a finished batch is in the OS page cache
(durable against a process crash). With `fsync=True` each touched file, and each new directory entry, is
also fsync'd before the batch counts as written (durable against a power loss).

Open descriptors are kept in a bounded LRU cache (`max_open_files`).

Writes are idempotent per event: a recorder process that was killed is followed by one that reads the journal again
from its oldest segment not yet recycled, and derives events that may already be in a file. So when this writer
first touches a session file that already exists, it reads the keys of the events in it (type, request id, tool
call id) and skips those; a file it created itself needs no such read (a journal entry is read once per process).

With a `cipher` (`lunaroute.recording._crypto.RecordCipher`) every line is written sealed instead: `LR1:` plus
the base64 of key id, nonce and AES-256-GCM ciphertext, bound to the session id (see `_crypto` for the format),
still one line and one `write()` per batch per file. Without one the files are plain JSONL, as always.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lunaroute.recording._crypto import RecordCipher
from lunaroute.recording._fsio import ensure_dir, fsync_dir, open_append, write_all
from lunaroute.recording.codec import DEFAULT_MAX_FIELD_CHARS, encode_event, encode_line
from lunaroute.recording.events import SessionEvent, is_valid_session_id
from lunaroute.recording.jsonl_reader import iter_session_file

__all__ = ["JsonlWriter"]

_DAY_CACHE_SECS = 60.0
_log = logging.getLogger("lunaroute.recording.jsonl")
_MAX_KNOWN_SESSIONS = 100_000
_MAX_KEYED_FILES = 4096
EventKey = tuple[str, str, str]


def event_key(ev: SessionEvent) -> EventKey:
    """What makes an event itself: its type, its request, and for a tool call its id."""
    return type(ev).__name__, ev.request_id, getattr(ev, "tool_call_id", "")


class JsonlWriter:
    """A `SessionWriter` appending each event to its session's JSONL file."""

    name = "jsonl"

    def __init__(
        self,
        directory: Path,
        *,
        fsync: bool = False,
        max_open_files: int = 64,
        lookback_days: int = 7,
        max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
        cipher: RecordCipher | None = None,
    ) -> None:
        self.directory = directory
        self._cipher = cipher
        self.fsync = fsync
        self._max_open = max(1, max_open_files)
        self._lookback_days = lookback_days
        self._max_field_chars = max_field_chars
        self._lock = threading.Lock()
        self._fds: OrderedDict[Path, int] = OrderedDict()
        self._paths: OrderedDict[str, Path] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lunaroute-jsonl")
        self._closed = False
        self._days: dict[dt.date, tuple[bool, float]] = {}
        self._keys: OrderedDict[Path, set[EventKey] | None] = OrderedDict()
        """Files touched by this writer: the keys of their events when the file existed before (None: this
        writer created it, nothing in it can be written twice)."""

    def path_for(self, session_id: str, day: dt.date) -> Path:
        """Where the session that started on `day` (UTC) is stored."""
        return self.directory / day.isoformat() / f"{session_id}.jsonl"

    async def write_batch(self, events: Sequence[SessionEvent]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, functools.partial(self._write_sync, list(events)))

    async def flush(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._flush_sync)

    async def close(self) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_sync)
        self._executor.shutdown(wait=True)
        self._closed = True

    # -- worker thread ----------------------------------------------------------------------------------

    def _write_sync(self, events: list[SessionEvent]) -> None:
        groups: dict[Path, list[SessionEvent]] = {}
        for ev in events:
            if not is_valid_session_id(ev.session_id):
                _log.error("jsonl: event with invalid session id %r not written", ev.session_id[:64])
                continue
            groups.setdefault(self._session_path(ev), []).append(ev)
        with self._lock:
            for path, group in groups.items():
                keys = self._keys_for(path)
                if keys is not None:
                    group = [ev for ev in group if event_key(ev) not in keys]
                    if not group:
                        continue
                fd = self._fd_for(path)
                try:
                    write_all(fd, b"".join(self._line(ev) for ev in group))
                    if self.fsync:
                        os.fsync(fd)
                except OSError:
                    # Forget the handle: the next attempt reopens the path (a full disk that freed space, a
                    # file that was moved or compressed meanwhile) instead of failing on a stale descriptor.
                    self._drop(path)
                    raise
                if keys is not None:
                    keys.update(event_key(ev) for ev in group)

    def _keys_for(self, path: Path) -> set[EventKey] | None:
        """The keys of the events a file held before this writer touched it (None when it did not exist)."""
        if path in self._keys:
            self._keys.move_to_end(path)
            return self._keys[path]
        keys: set[EventKey] | None = None
        if path.is_file():  # a regular file: a link to a device (a test's /dev/full) is not read
            keys = set()
            try:
                keys.update(event_key(ev) for ev in iter_session_file(path, cipher=self._cipher))
            except Exception as exc:  # noqa: BLE001 - unreadable: better a line written twice than one lost
                _log.warning("jsonl: could not read %s to skip events already in it: %r", path, exc)
        self._keys[path] = keys
        if len(self._keys) > _MAX_KEYED_FILES:
            self._keys.popitem(last=False)
        return keys

    def _line(self, ev: SessionEvent) -> bytes:
        if self._cipher is None:
            return encode_line(ev, self._max_field_chars)
        record = self._cipher.seal(encode_event(ev, self._max_field_chars), ev.session_id.encode())
        return record + b"\n"

    def _session_path(self, ev: SessionEvent) -> Path:
        sid = ev.session_id
        path = self._paths.get(sid)
        if path is not None:
            self._paths.move_to_end(sid)
            return path
        day = ev.timestamp.astimezone(dt.UTC).date()
        path = self.path_for(sid, day)
        for back in range(1, self._lookback_days + 1):
            earlier_day = day - dt.timedelta(days=back)
            if not self._day_exists(earlier_day):
                continue
            earlier = self.path_for(sid, earlier_day)
            if earlier.exists():
                path = earlier
                break
        self._paths[sid] = path
        if len(self._paths) > _MAX_KNOWN_SESSIONS:
            self._paths.popitem(last=False)
        return path

    def _day_exists(self, day: dt.date) -> bool:
        """Whether the directory of an earlier `day` exists, remembered for a minute (a new session would
        otherwise cost a `stat` per look-back day)."""
        now = time.monotonic()
        known = self._days.get(day)
        if known is not None and now - known[1] < _DAY_CACHE_SECS:
            return known[0]
        exists = (self.directory / day.isoformat()).is_dir()
        self._days[day] = (exists, now)
        if len(self._days) > 64:
            self._days.clear()
        return exists

    def _fd_for(self, path: Path) -> int:
        fd = self._fds.get(path)
        if fd is not None:
            self._fds.move_to_end(path)
            return fd
        new_dirs = ensure_dir(path.parent)
        fd, created = open_append(path)
        if self.fsync and (created or new_dirs):
            fsync_dir(path.parent)
            if new_dirs:
                fsync_dir(path.parent.parent)
        self._fds[path] = fd
        while len(self._fds) > self._max_open:
            _, old = self._fds.popitem(last=False)
            os.close(old)
        return fd

    def _drop(self, path: Path) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _flush_sync(self) -> None:
        if not self.fsync:
            return
        with self._lock:
            for fd in self._fds.values():
                os.fsync(fd)

    def _close_sync(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                if self.fsync:
                    os.fsync(fd)
                os.close(fd)
            self._fds.clear()
