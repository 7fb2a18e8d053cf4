"""`Capture`: the recorder's front door for the server.

`begin(record)` is called before the upstream call and `end(record)` before the client is told the response is
complete; both only append to the journal. An exchange that ends within `START_FLUSH_SECS` is written once, start
and end together (one encode, one copy); a longer one has its start written when it is that old, or when a
fallback is about to send it elsewhere. The recorder process (`recording.worker`) follows the journal, derives the
session events and writes the stores; nothing of that runs on the gateway's event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import time
from dataclasses import dataclass

from lunaroute.recording._journal import Journal
from lunaroute.recording.extract import session_id_for
from lunaroute.recording.worker._process import STOP_DRAIN_SECS, STOP_GRACE_SECS, WorkerProcess
from lunaroute.recording.worker._protocol import WorkerStats
from lunaroute.scrub import Scrubber, mask_gateway_keys
from lunaroute.types import ExchangeRecord

__all__ = ["Capture", "CaptureStats"]

_log = logging.getLogger("lunaroute.recording.capture")
START_FLUSH_SECS = 0.05
"""An exchange still running this long after it began has its start written on its own, so that it is recorded
as `interrupted` if the gateway is killed; a shorter one is written once, start and end together, when it ends."""


@dataclass(slots=True)
class CaptureStats:
    """Counters of the gateway side, read by the metrics endpoint."""

    begun: int = 0
    ended: int = 0
    sampled_out: int = 0
    journal_errors: int = 0


class Capture:
    """Journal in front of the recorder process."""

    def __init__(
        self, journal: Journal, worker: WorkerProcess, *, sample_rate: float = 1.0, scrub: Scrubber | None = None
    ) -> None:
        self.journal = journal
        self._scrub = scrub if scrub else None
        self.worker = worker
        self.stats = CaptureStats()
        self._sample_rate = sample_rate
        self._skipped: set[str] = set()
        self._closed = False
        self._start_timer: asyncio.TimerHandle | None = None
        self.journal_error: str | None = None
        """Why the last journal write failed; None once one succeeds (or `probe` finds room again)."""
        self._pending: dict[str, tuple[ExchangeRecord, float]] = {}
        """Begun exchanges whose start is not written yet: request id → (record, when begun)."""

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
        session = session_id_for(record)
        digest = hashlib.blake2b(session.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self._sample_rate

    def begin(self, record: ExchangeRecord) -> None:
        """The request is about to go upstream (or was rejected). Non-blocking: nothing is encoded or written."""
        if self._closed:
            return
        if self._sample_rate < 1.0 and not self._sampled(record):
            self._skipped.add(record.request_id)
            self.stats.sampled_out += 1
            return
        self.stats.begun += 1
        self._pending[record.request_id] = (record, time.monotonic())
        if self._start_timer is None:
            self._arm(START_FLUSH_SECS)

    def rerouting(self, record: ExchangeRecord) -> None:
        """The exchange is about to be sent elsewhere (a fallback) and its routed fields to change: a start not
        written yet is staged now, as the exchange began."""
        if self._pending.pop(record.request_id, None) is not None:
            self.journal.stage("start", record)
            self._flush()

    def _arm(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a tool, a test): write the starts now
            self._write_starts()
            return
        self._start_timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._start_timer = None
        if self._closed:
            return
        self._write_starts(older_than=START_FLUSH_SECS)
        if self._pending:
            oldest = next(iter(self._pending.values()))[1]
            self._arm(max(0.0, oldest + START_FLUSH_SECS - time.monotonic()))

    def _write_starts(self, older_than: float = 0.0) -> None:
        """Write the starts of the exchanges begun at least `older_than` seconds ago (by default every one)."""
        now = time.monotonic()
        while self._pending:
            request_id, (record, begun) = next(iter(self._pending.items()))
            if now - begun < older_than:
                break
            del self._pending[request_id]
            self.journal.stage("start", record)
        self._flush()

    def end(self, record: ExchangeRecord) -> None:
        """The exchange is over (the record holds its outcome). Call before the client sees the end: the entry
        is in the journal when this returns — copied into the mapped segment, in the page cache. An exchange whose
        start is not written yet is written as one entry, start and end together."""
        if self._closed:
            return
        if self._skipped and record.request_id in self._skipped:
            self._skipped.discard(record.request_id)
            return
        if self._scrub is not None and (record.status or 0) >= 400:
            # An upstream error may echo a configured key: masked before the journal, so before every store.
            self._scrub.record(record)
        if record.key_id is not None:
            # A keyed exchange: its answer may repeat a gateway key the client pasted into its prompt.
            record.response_body = mask_gateway_keys(record.response_body)
            if record.stream_chunks:
                record.stream_chunks[:] = [mask_gateway_keys(chunk) for chunk in record.stream_chunks]
        if self._pending.pop(record.request_id, None) is not None:
            self.journal.stage("full", record)
        else:
            self.journal.stage("end", record)
        self.stats.ended += 1
        self._flush()

    async def drain(self) -> None:
        """Wait until everything journaled so far is recorded and flushed by the recorder process (the starts of
        exchanges still running are written first)."""
        self._write_starts()
        await self.worker.sync()

    def _flush(self) -> None:
        try:
            self.journal.flush()
        except OSError as exc:
            # Not logged here (one line per request would flood the log): the gateway's recording health
            # reports the episode once, from `journal_error` and the counter.
            self.stats.journal_errors += 1
            self.journal_error = str(exc)
        else:
            self.journal_error = None

    def probe(self, min_free_bytes: int = 1 << 20) -> None:
        """After a failed journal write, clear `journal_error` once the journal's file system has
        `min_free_bytes` free again, so that a gateway refusing traffic while it cannot record (and so writing
        nothing that would show the journal works) tries again; the next write confirms it or sets it again."""
        if self.journal_error is None:
            return
        try:
            if shutil.disk_usage(self.journal.directory).free >= min_free_bytes:
                self.journal_error = None
        except OSError as exc:
            self.journal_error = str(exc)

    async def aclose(self, drain_secs: float = STOP_DRAIN_SECS, grace_secs: float = STOP_GRACE_SECS) -> None:
        """Close the journal, let the recorder process record it and exit, then release the journal.

        Bounded: the recorder records for at most `drain_secs` and is killed `grace_secs` later if still running;
        what it did not record stays in the journal for the next start (`WorkerProcess.stop`)."""
        self._closed = True
        if self._start_timer is not None:
            self._start_timer.cancel()
            self._start_timer = None
        self._write_starts()
        self.journal.close()
        try:
            await self.worker.stop(drain_secs, grace_secs)
        finally:
            self.journal.unlock()
