"""The raw recorded events of a session, read from the JSONL tree `<dir>/<YYYY-MM-DD>/<session_id>.jsonl[.zst]`.

The session id is checked with `is_valid_session_id` before any path is built from it, so no id can leave
the directory (`..`, `/`, NUL, `%2f` and over-long ids are all rejected with `InvalidSessionId`). A
session's events may span several day directories (the Rust writer starts a new file at each UTC midnight),
so every day from `days_before` before the session's start to `days_after` after it is read, oldest first;
without a start time every day directory is looked at. All methods block: call them from a worker thread.
Encrypted files are read with the archive's `cipher`; without the right key, `events` raises `RecordKeyError`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from lunaroute.recording._crypto import RecordCipher
from lunaroute.recording.events import SessionEvent, is_valid_session_id
from lunaroute.recording.jsonl_reader import BadLine, iter_session_file

__all__ = ["InvalidSessionId", "JsonlArchive"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SUFFIXES = (".jsonl", ".jsonl.zst")


class InvalidSessionId(ValueError):
    """A session id that is not 1-255 characters of `[A-Za-z0-9_-]`."""


def _checked(session_id: str) -> str:
    if not is_valid_session_id(session_id):
        raise InvalidSessionId(f"invalid session id {session_id[:64]!r}")
    return session_id


class JsonlArchive:
    """Read access (and deletion) of session JSONL files under `directory`."""

    def __init__(
        self, directory: Path, *, days_before: int = 1, days_after: int = 7, cipher: RecordCipher | None = None
    ) -> None:
        self.directory = directory
        self.cipher = cipher
        self.days_before = days_before
        self.days_after = days_after

    def _days(self, started_at: dt.datetime | None) -> list[str]:
        if started_at is not None:
            day = started_at.astimezone(dt.UTC).date()
            return [(day + dt.timedelta(days=n)).isoformat() for n in range(-self.days_before, self.days_after + 1)]
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if _DAY.fullmatch(p.name))

    def session_files(self, session_id: str, started_at: dt.datetime | None = None) -> list[Path]:
        """The existing files of the session, oldest day first. Raises `InvalidSessionId`."""
        sid = _checked(session_id)
        found = []
        for day in self._days(started_at):
            for suffix in _SUFFIXES:
                path = self.directory / day / f"{sid}{suffix}"
                if path.is_file():
                    found.append(path)
        return found

    def events(
        self, session_id: str, started_at: dt.datetime | None = None, *, request_id: str | None = None
    ) -> list[SessionEvent]:
        """The session's events in file order, only those of `request_id` when given; unreadable lines skipped.

        Raises `RecordKeyError` for an encrypted file the archive has no key for.
        """
        skipped: list[BadLine] = []
        out: list[SessionEvent] = []
        for path in self.session_files(session_id, started_at):
            for event in iter_session_file(path, on_bad_line=skipped.append, cipher=self.cipher):
                if request_id is None or event.request_id == request_id:
                    out.append(event)
        return out

    def delete(self, session_id: str) -> int:
        """Delete every file of the session (all days); return how many were removed."""
        removed = 0
        for path in self.session_files(session_id, None):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
