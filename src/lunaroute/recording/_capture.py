"""`Capture`: the recorder's front door for the server.

`begin(record)` is called before the upstream call and `end(record)` before the client is told the response is
complete; both only append to the journal (one `write()`) and to an in-memory queue. A background task turns
queued records into session events (parsing the copies of the bodies) and hands them to the `Recorder`; once
everything queued has been recorded and flushed, the journal segments behind it are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lunaroute.recording._journal import Journal
from lunaroute.recording.events import Completed, SessionEvent
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start, session_id_for
from lunaroute.recording.recorder import Recorder
from lunaroute.types import ExchangeRecord

__all__ = ["Capture", "CaptureStats"]

_log = logging.getLogger("lunaroute.recording.capture")
_CHECKPOINT_SECS = 1.0

Redactor = Callable[[SessionEvent], SessionEvent]
Observer = Callable[[ExchangeRecord, list[SessionEvent]], None]
"""Sees each finished exchange with the events derived from it (the metrics count tokens and cost here)."""


@dataclass(slots=True)
class CaptureStats:
    """Counters read by the metrics endpoint."""

    begun: int = 0
    ended: int = 0
    sampled_out: int = 0
    extraction_failures: int = 0
    replayed_records: int = 0
    interrupted: int = 0


class Capture:
    """Journal + queue + extraction task in front of a `Recorder`."""

    def __init__(
        self,
        recorder: Recorder,
        journal_dir: Path,
        *,
        sample_rate: float = 1.0,
        journal_fsync: bool = False,
        redact: Redactor | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.recorder = recorder
        self.journal = Journal(journal_dir, fsync=journal_fsync)
        self.tracker = SessionTracker()
        self.stats = CaptureStats()
        self._sample_rate = sample_rate
        self._redact = redact
        self._observer = observer
        self._queue: deque[tuple[Literal["start", "end"], ExchangeRecord]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._skipped: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._commit_future: asyncio.Future[None] | None = None
        self._last_checkpoint = 0.0

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        """Open the journal, start the recorder, record what a previous run left in its journal."""
        leftovers = self.journal.open()
        await self.recorder.start()
        for path in leftovers:
            self._replay(path)
        if leftovers:
            await self.recorder.flush()
            for path in leftovers:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self._task = asyncio.create_task(self._run(), name="lunaroute-capture")

    def _sampled(self, record: ExchangeRecord) -> bool:
        if self._sample_rate >= 1.0:
            return True
        session = session_id_for(record)
        digest = hashlib.blake2b(session.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self._sample_rate

    def begin(self, record: ExchangeRecord) -> None:
        """The request is about to go upstream (or was rejected). Non-blocking."""
        if not self._sampled(record):
            self._skipped.add(record.request_id)
            self.stats.sampled_out += 1
            return
        self.journal.stage("start", record)
        self._push("start", record)
        self.stats.begun += 1

    def end(self, record: ExchangeRecord) -> asyncio.Future[None] | None:
        """The exchange is over (the record holds its outcome). Call before the client sees the end, and await
        the returned future before telling the client: it resolves once the entry is in the journal.

        Entries of exchanges that end in the same event-loop iteration share one `write()` (group commit).
        """
        if record.request_id in self._skipped:
            self._skipped.discard(record.request_id)
            return None
        self.journal.stage("end", record)
        self._push("end", record)
        self.stats.ended += 1
        return self._commit()

    def _commit(self) -> asyncio.Future[None]:
        if self._commit_future is None:
            loop = asyncio.get_running_loop()
            self._commit_future = loop.create_future()
            loop.call_soon(self._write_journal)
        return self._commit_future

    def _write_journal(self) -> None:
        future, self._commit_future = self._commit_future, None
        try:
            self.journal.flush()
        except OSError as exc:
            # The exchange is still recorded from memory; only its crash protection is missing.
            _log.error("could not write the capture journal: %s", exc)
        finally:
            if future is not None and not future.done():
                future.set_result(None)

    def _push(self, kind: Literal["start", "end"], record: ExchangeRecord) -> None:
        self._queue.append((kind, record))
        self._idle.clear()
        self._wake.set()

    def _events(self, kind: Literal["start", "end"], record: ExchangeRecord) -> list[SessionEvent]:
        try:
            if kind == "start":
                return events_at_start(record, self.tracker)
            return events_at_end(record, self.tracker)
        except Exception:  # noqa: BLE001 - a parsing bug must not stop recording; counted and logged
            self.stats.extraction_failures += 1
            _log.exception("could not derive %s events for request %s", kind, record.request_id)
            return []

    def _emit(self, events: list[SessionEvent]) -> None:
        for event in events:
            self.recorder.record(self._redact(event) if self._redact is not None else event)

    def _replay(self, path: Path) -> None:
        open_starts: dict[str, ExchangeRecord] = {}
        for entry in Journal.read(path):
            self.stats.replayed_records += 1
            if entry.kind == "start":
                open_starts[entry.record.request_id] = entry.record
                self._emit(self._events("start", entry.record))
            else:
                start = open_starts.pop(entry.record.request_id, None)
                record = entry.record
                if start is not None and not record.request_body:
                    record.request_body = start.request_body
                self._emit(self._events("end", record))
        for record in open_starts.values():
            record.outcome = "interrupted"
            record.error = "the gateway stopped before this exchange finished"
            self.stats.interrupted += 1
            self._emit([e for e in self._events("end", record) if isinstance(e, Completed)])

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                kind, record = self._queue.popleft()
                events = self._events(kind, record)
                self._emit(events)
                if kind == "end" and self._observer is not None:
                    self._observer(record, events)
                if len(self._queue) % 64 == 0:
                    await asyncio.sleep(0)  # let the request path run between long runs of parsing
            await self._checkpoint()
            if not self._queue:
                self._idle.set()

    async def _checkpoint(self) -> None:
        """Rotate the journal and delete segments whose records are all recorded and flushed."""
        now = time.monotonic()
        if now - self._last_checkpoint < _CHECKPOINT_SECS:
            # Come back later even when no new record arrives.
            asyncio.get_running_loop().call_later(_CHECKPOINT_SECS, self._wake.set)
            return
        self._last_checkpoint = now
        if self._queue:
            return
        closed = self.journal.rotate()
        await self.recorder.flush()
        self.journal.delete_through(closed)

    async def drain(self) -> None:
        """Wait until everything queued so far has been handed to the recorder and flushed."""
        await self._idle.wait()
        await self.recorder.flush()

    async def aclose(self) -> None:
        """Record everything queued, flush, close the recorder, then drop the journal."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._queue:
            kind, record = self._queue.popleft()
            self._emit(self._events(kind, record))
        closed = self.journal.rotate()
        await self.recorder.aclose()
        self.journal.delete_through(closed)
        self.journal.close()
