"""Reading session JSONL files (`.jsonl` or zstd-compressed `.jsonl.zst`), tolerating a torn tail.

A last line without a newline, or one that does not parse, is a torn write (a crash mid-append): it is
skipped and reported, never raised. Unparsable lines elsewhere, and event types this version does not know
(the Rust `stats_snapshot`), are skipped and reported too.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec
import zstandard

from lunaroute.recording.codec import decode_event
from lunaroute.recording.events import SessionEvent

__all__ = ["BadLine", "SessionFile", "iter_session_file", "read_session_file"]

_log = logging.getLogger("lunaroute.recording.jsonl")


@dataclass(frozen=True, slots=True)
class BadLine:
    """A skipped line: 1-based `line_no`, whether it is the torn last line, the reason and its first bytes."""

    path: Path
    line_no: int
    torn: bool
    reason: str
    head: bytes


@dataclass(slots=True)
class SessionFile:
    events: list[SessionEvent] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def torn(self) -> bool:
        return any(b.torn for b in self.bad_lines)


def _log_bad_line(bad: BadLine) -> None:
    kind = "torn last line" if bad.torn else "bad line"
    _log.warning("%s: %s %d skipped: %s", bad.path, kind, bad.line_no, bad.reason)


def _open(path: Path) -> BinaryIO:
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller's `with`
    if path.name.endswith(".zst"):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader)
    return raw


def iter_session_file(path: Path, *, on_bad_line: Callable[[BadLine], None] | None = None) -> Iterator[SessionEvent]:
    """Yield the events of one session file in order; report skipped lines to `on_bad_line` (default: log)."""
    report = on_bad_line or _log_bad_line
    with _open(path) as f:
        pending: bytes | None = None
        line_no = 0
        for line in f:
            if pending is not None:
                event = _decode(path, line_no, pending, last=False, report=report)
                if event is not None:
                    yield event
            pending = line
            line_no += 1
        if pending is not None:
            event = _decode(path, line_no, pending, last=True, report=report)
            if event is not None:
                yield event


def _decode(
    path: Path, line_no: int, line: bytes, *, last: bool, report: Callable[[BadLine], None]
) -> SessionEvent | None:
    if last and not line.endswith(b"\n"):
        report(BadLine(path, line_no, True, "no trailing newline", line[:200]))
        return None
    if not line.strip():
        return None
    try:
        return decode_event(line)
    except msgspec.ValidationError as exc:  # well-formed JSON this version does not know
        report(BadLine(path, line_no, False, str(exc), line[:200]))
        return None
    except msgspec.DecodeError as exc:
        report(BadLine(path, line_no, last, str(exc), line[:200]))
        return None


def read_session_file(path: Path) -> SessionFile:
    """All events of a session file plus the lines that were skipped (not logged)."""
    result = SessionFile()
    result.events.extend(iter_session_file(path, on_bad_line=result.bad_lines.append))
    return result
