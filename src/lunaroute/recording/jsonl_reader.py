"""Reading session JSONL files (`.jsonl` or zstd-compressed `.jsonl.zst`), tolerating a torn tail.

A last line without a newline, or one that does not parse, is a torn write (a crash mid-append): it is
skipped and reported, never raised. Unparsable lines elsewhere, and event types this version does not know
(the Rust `stats_snapshot`), are skipped and reported too.

Encrypted files (written with a `RecordCipher`, see `lunaroute.recording._crypto`) are read line by line the
same way: a line starting `LR1:` is a sealed record, opened with the reader's `cipher` and the session id taken
from the file name (`<session_id>.jsonl[.zst]`) as associated data; a line starting `{` is plain JSON (a file
may hold plain lines written before encryption was turned on). A sealed record that does not authenticate
(altered, or copied from another session's file) is skipped and reported like an unparsable line. A sealed
record with no key to open it (no `cipher`, or none of its keys matches) raises `RecordKeyError`: guessing is
never an option, and skipping would silently hide the whole session.
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

from lunaroute.recording._crypto import RecordCipher, RecordCorrupt, RecordKeyError, is_sealed
from lunaroute.recording.codec import decode_event
from lunaroute.recording.events import SessionEvent

__all__ = ["BadLine", "SessionFile", "iter_session_file", "read_session_file", "session_id_of"]

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


def session_id_of(path: Path) -> str:
    """The session id a session file's name carries (`<session_id>.jsonl` or `.jsonl.zst`)."""
    name = path.name
    for suffix in (".jsonl.zst", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def iter_session_file(
    path: Path,
    *,
    on_bad_line: Callable[[BadLine], None] | None = None,
    cipher: RecordCipher | None = None,
) -> Iterator[SessionEvent]:
    """Yield the events of one session file in order; report skipped lines to `on_bad_line` (default: log).

    Sealed records are opened with `cipher`; raises `RecordKeyError` when one cannot be (see the module doc).
    """
    report = on_bad_line or _log_bad_line
    aad = session_id_of(path).encode()
    with _open(path) as f:
        pending: bytes | None = None
        line_no = 0
        for line in f:
            if pending is not None:
                event = _decode(path, line_no, pending, last=False, report=report, cipher=cipher, aad=aad)
                if event is not None:
                    yield event
            pending = line
            line_no += 1
        if pending is not None:
            event = _decode(path, line_no, pending, last=True, report=report, cipher=cipher, aad=aad)
            if event is not None:
                yield event


def _decode(
    path: Path,
    line_no: int,
    line: bytes,
    *,
    last: bool,
    report: Callable[[BadLine], None],
    cipher: RecordCipher | None,
    aad: bytes,
) -> SessionEvent | None:
    if last and not line.endswith(b"\n"):
        report(BadLine(path, line_no, True, "no trailing newline", line[:200]))
        return None
    if not line.strip():
        return None
    if is_sealed(line):
        if cipher is None:
            raise RecordKeyError(
                f"{path}: line {line_no} is encrypted: configure session_recording.encryption with its key"
            )
        try:
            line = cipher.open(line, aad)
        except RecordKeyError as exc:
            raise RecordKeyError(f"{path}: line {line_no}: {exc}") from None
        except RecordCorrupt as exc:
            report(BadLine(path, line_no, False, str(exc), line[:200]))
            return None
    try:
        return decode_event(line)
    except msgspec.ValidationError as exc:  # well-formed JSON this version does not know
        report(BadLine(path, line_no, False, str(exc), line[:200]))
        return None
    except msgspec.DecodeError as exc:
        report(BadLine(path, line_no, last, str(exc), line[:200]))
        return None


def read_session_file(path: Path, *, cipher: RecordCipher | None = None) -> SessionFile:
    """All events of a session file plus the lines that were skipped (not logged). Raises `RecordKeyError`."""
    result = SessionFile()
    result.events.extend(iter_session_file(path, on_bad_line=result.bad_lines.append, cipher=cipher))
    return result
