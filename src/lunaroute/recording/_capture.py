"""`Capture`: the recorder's front door for the server.

`begin(record)` is called before the upstream call and `end(record)` before the client is told the response is
complete; both only append to the journal (a start is staged and written with the next end, one `write()`, or
on its own after `START_FLUSH_SECS` when no end came to carry it). The recorder process (`recording.worker`)
follows the journal, derives the session events and writes the stores; nothing of that runs on the gateway's
event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from lunaroute.recording._journal import Journal
from lunaroute.recording.extract import session_id_for
from lunaroute.recording.worker._process import WorkerProcess
from lunaroute.recording.worker._protocol import WorkerStats
from lunaroute.types import ExchangeRecord

__all__ = ["Capture", "CaptureStats"]

_log = logging.getLogger("lunaroute.recording.capture")
START_FLUSH_SECS = 0.05
"""A start staged this long without an end to carry it is written on its own, so an exchange still running when
the gateway is killed is recorded as `interrupted`."""


@dataclass(slots=True)
class CaptureStats:
    """Counters of the gateway side, read by the metrics endpoint."""

    begun: int = 0
    ended: int = 0
    sampled_out: int = 0
    journal_errors: int = 0


class Capture:
    """Journal in front of the recorder process."""

    def __init__(self, journal: Journal, worker: WorkerProcess, *, sample_rate: float = 1.0) -> None:
        self.journal = journal
        self.worker = worker
        self.stats = CaptureStats()
        self._sample_rate = sample_rate
        self._skipped: set[str] = set()
        self._closed = False
        self._start_timer: asyncio.TimerHandle | None = None

    @property
    def recorder_stats(self) -> WorkerStats:
        """The recorder process's latest counters (sent every second and after every `drain`)."""
        return self.worker.stats

    @property
    def backlog_bytes(self) -> int:
        """Journal bytes written and not yet read by the recorder process."""
        stats = self.worker.stats
        return self.journal.bytes_after(stats.journal_segment, stats.journal_offset)

    def _sampled(self, record: ExchangeRecord) -> bool:
        if self._sample_rate >= 1.0:
            return True
        session = session_id_for(record)
        digest = hashlib.blake2b(session.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self._sample_rate

    def begin(self, record: ExchangeRecord) -> None:
        """The request is about to go upstream (or was rejected). Non-blocking."""
        if self._closed:
            return
        if not self._sampled(record):
            self._skipped.add(record.request_id)
            self.stats.sampled_out += 1
            return
        self.journal.stage("start", record)
        self.stats.begun += 1
        if self._start_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._flush()
                return
            self._start_timer = loop.call_later(START_FLUSH_SECS, self._flush_starts)

    def _flush_starts(self) -> None:
        self._start_timer = None
        if not self._closed:
            self._flush()

    def end(self, record: ExchangeRecord) -> None:
        """The exchange is over (the record holds its outcome). Call before the client sees the end: the entry
        (with any staged starts) is in the journal when this returns — one `write()`, to the page cache."""
        if self._closed:
            return
        if record.request_id in self._skipped:
            self._skipped.discard(record.request_id)
            return
        self.journal.stage("end", record)
        self.stats.ended += 1
        self._flush()

    async def drain(self) -> None:
        """Wait until everything journaled so far is recorded and flushed by the recorder process."""
        self._flush()
        await self.worker.sync()

    def _flush(self) -> None:
        try:
            self.journal.flush()
        except OSError as exc:
            self.stats.journal_errors += 1
            _log.error("could not write the capture journal: %s", exc)

    async def aclose(self) -> None:
        """Close the journal, let the recorder process record all of it and exit, then release the journal."""
        self._closed = True
        if self._start_timer is not None:
            self._start_timer.cancel()
            self._start_timer = None
        self._flush()
        self.journal.close()
        try:
            await self.worker.stop()
        finally:
            self.journal.unlock()
