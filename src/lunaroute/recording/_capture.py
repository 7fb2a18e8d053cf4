"""`Capture`: the recorder's front door for the server.

`begin(record)` is called before the upstream call and `end(record)` before the client is told the response is
complete; both only append to the journal, and each is in the journal when it returns: an exchange that reached
its upstream is recorded at least as `interrupted` if the gateway is killed, and one whose client saw the end of
its answer is recorded whole. The recorder process (`recording.worker`) follows the journal, derives the
session events and writes the stores; nothing of that runs on the gateway's event loop.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from typing import Protocol

from lunaroute.recording._journal import Journal
from lunaroute.recording.extract import session_id_for
from lunaroute.recording.worker._process import STOP_DRAIN_SECS, STOP_GRACE_SECS
from lunaroute.recording.worker._protocol import WorkerStats
from lunaroute.scrub import Scrubber, mask_gateway_keys
from lunaroute.types import ExchangeRecord

__all__ = ["Capture", "CaptureStats", "RecorderHandle"]

_log = logging.getLogger("lunaroute.recording.capture")


class RecorderHandle(Protocol):
    """What the capture needs of the recorder process behind its journal: the process's own handle
    (`WorkerProcess`), or, in a worker of `serve --workers N`, the supervisor's relay of the one shared recorder."""

    @property
    def stats(self) -> WorkerStats:
        """The recorder's latest counters."""
        ...

    @property
    def restarts(self) -> int:
        """Times the recorder process was restarted after exiting unexpectedly."""
        ...

    async def sync(self) -> None:
        """Return once everything journaled so far is recorded and flushed."""

    async def stop(self, drain_secs: float, grace_secs: float) -> None:
        """Nothing more will be journaled: record the rest (boundedly) and let go of the recorder."""


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
        self,
        journal: Journal,
        worker: RecorderHandle,
        *,
        sample_rate: float = 1.0,
        scrub: Scrubber | None = None,
        lane: int = 0,
    ) -> None:
        self.journal = journal
        self._scrub = scrub
        """Kept even while it knows no secret: it may learn some at run time (a config reload's new keys,
        `Scrubber.learn`; a Codex token as it is read, `Scrubber.add`)."""
        self.worker = worker
        self.lane = lane
        """Which of the recorder's journals (`WorkerSpec.lanes`) this one is."""
        self.stats = CaptureStats()
        self._sample_rate = sample_rate
        self._skipped: set[str] = set()
        self._closed = False
        self.journal_error: str | None = None
        """Why the last journal write failed; None once one succeeds (or `probe` finds room again)."""

    @property
    def recorder_stats(self) -> WorkerStats:
        """The recorder process's latest counters (sent every second and after every `drain`)."""
        return self.worker.stats

    @property
    def backlog_bytes(self) -> int:
        """Journal bytes written and not yet read by the recorder process."""
        stats = self.worker.stats
        if self.lane < len(stats.lane_positions):
            segment, offset = stats.lane_positions[self.lane]
            return self.journal.bytes_after(segment, offset)
        return self.journal.bytes_after(stats.journal_segment, stats.journal_offset)

    def _sampled(self, record: ExchangeRecord) -> bool:
        session = session_id_for(record)
        digest = hashlib.blake2b(session.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self._sample_rate

    def begin(self, record: ExchangeRecord) -> None:
        """The request is about to go upstream (or was rejected): its start, request body included, is copied into
        the journal before this returns, so that a gateway killed from here on leaves it to be recorded as
        `interrupted`."""
        if self._closed:
            return
        if self._sample_rate < 1.0 and not self._sampled(record):
            self._skipped.add(record.request_id)
            self.stats.sampled_out += 1
            return
        self.stats.begun += 1
        self.journal.stage("start", record)
        self._flush()

    def end(self, record: ExchangeRecord) -> None:
        """The exchange is over (the record holds its outcome). Call before the client sees the end: the entry
        is in the journal when this returns — copied into the mapped segment, in the page cache (without the
        request body: the start has it)."""
        if self._closed:
            return
        if self._skipped and record.request_id in self._skipped:
            self._skipped.discard(record.request_id)
            return
        if self._scrub and (record.status or 0) >= 400:
            # An upstream error may echo a configured key: masked before the journal, so before every store.
            self._scrub.record(record)
        if record.key_id is not None:
            # A keyed exchange: its answer may repeat a gateway key the client pasted into its prompt.
            record.response_body = mask_gateway_keys(record.response_body)
            if record.stream_chunks:
                record.stream_chunks[:] = [mask_gateway_keys(chunk) for chunk in record.stream_chunks]
        self.journal.stage("end", record)
        self.stats.ended += 1
        self._flush()

    async def drain(self) -> None:
        """Wait until everything journaled so far is recorded and flushed by the recorder process."""
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
        self.journal.close()
        try:
            await self.worker.stop(drain_secs, grace_secs)
        finally:
            self.journal.unlock()
