"""The capture journal: every exchange the server saw, appended before the client is told it is done.

Each record is one line (`{"kind": "start"|"end", "record": ExchangeRecord}` as JSON) written with a single
`write()` to the current segment file, so it survives the gateway process being killed (it is in the page cache;
`fsync=True` makes it survive power loss too, at the cost of a sync per record). Events are derived from the
records later, off the request path; once the recorder has flushed everything derived from a segment, the
segment is deleted. On start-up, segments left by a previous run are read back: their records are recorded
again (the stores' idempotent upserts absorb what had already been written) and a start without an end is
recorded as `interrupted`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec

from lunaroute.types import ExchangeRecord

__all__ = ["Journal", "JournalEntry"]

_log = logging.getLogger("lunaroute.recording.journal")


class JournalEntry(msgspec.Struct, frozen=True):
    kind: Literal["start", "end"]
    record: ExchangeRecord


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JournalEntry)


class Journal:
    """Append-only segments `journal-<n>.jsonl` in `directory` (created 0700; files 0600)."""

    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.directory = directory
        self._fsync = fsync
        self._fd: int | None = None
        self._segment = 0
        self._staged: list[bytes] = []
        self.appended = 0

    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("journal-*.jsonl"):
            stem = path.stem.removeprefix("journal-")
            if stem.isdigit():
                found.append((int(stem), path))
        return sorted(found)

    def open(self) -> list[Path]:
        """Create the directory and a fresh segment; return the segments a previous run left behind."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        leftovers = self._segments()
        self._segment = leftovers[-1][0] + 1 if leftovers else 1
        self._open_segment()
        return [path for _, path in leftovers]

    def _path(self, segment: int) -> Path:
        return self.directory / f"journal-{segment:08d}.jsonl"

    def _open_segment(self) -> None:
        self._fd = os.open(self._path(self._segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @property
    def segment(self) -> int:
        return self._segment

    def stage(self, kind: Literal["start", "end"], record: ExchangeRecord) -> None:
        """Encode an entry now and write it with the next `append` or `flush` (starts need no write of their
        own: what must reach the file before a client is answered is the end of its exchange)."""
        self._staged.append(_encoder.encode(JournalEntry(kind, record)) + b"\n")

    def append(self, kind: Literal["start", "end"], record: ExchangeRecord) -> None:
        """Write the staged entries and this one with a single `write()` (blocking, microseconds: the page cache).

        An end entry leaves the request body out: its start entry, earlier in the journal, has it.
        """
        if kind == "end" and record.request_body:
            record = dataclasses.replace(record, request_body=b"")
        self._staged.append(_encoder.encode(JournalEntry(kind, record)) + b"\n")
        self.flush()

    def flush(self) -> None:
        """Write whatever is staged."""
        if not self._staged:
            return
        if self._fd is None:
            raise RuntimeError("journal is not open")
        lines, self._staged = self._staged, []
        view = memoryview(b"".join(lines))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._fsync:
            os.fsync(self._fd)
        self.appended += len(lines)

    def rotate(self) -> int:
        """Start a new segment; return the number of the one just closed (deletable once processed)."""
        self.flush()
        closed = self._segment
        if self._fd is not None:
            os.close(self._fd)
        self._segment += 1
        self._open_segment()
        return closed

    def delete_through(self, segment: int) -> None:
        """Remove every segment numbered `segment` or lower."""
        for number, path in self._segments():
            if number <= segment:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def read(path: Path) -> Iterator[JournalEntry]:
        """The entries of a segment; a torn or unreadable line is logged and skipped."""
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.endswith(b"\n"):
                    _log.warning("journal %s: torn last line %d skipped", path.name, number)
                    return
                try:
                    yield _decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    _log.warning("journal %s: unreadable line %d skipped", path.name, number)
