"""The recorder process: `python -m lunaroute.recording.worker`, started by the gateway.

It reads a `WorkerSpec` line on stdin, opens the stores, answers `Ready` (or `Failed`), then follows the journal
until the gateway says `Stop` or goes away (stdin closes): it records everything left, records exchanges that
never ended as `interrupted`, flushes, deletes the journal it consumed and exits. A `Stop` with `drain_secs` bounds
that: past the deadline the worker records what it has read and exits, and the segments it did not finish stay in
the journal for the next start, as after a crash. Parsing bodies, writing JSONL, SQLite and PostgreSQL, and
retention all happen here, off the gateway's event loop and its GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

import msgspec

from lunaroute._aio import cancel_and_wait
from lunaroute.observability._logging import configure_logging
from lunaroute.observability._usage import access_line
from lunaroute.recording._pii import build_pii_redactor
from lunaroute.recording._redact import build_redactor
from lunaroute.recording._session_stats import SessionStats
from lunaroute.recording.events import SessionEvent
from lunaroute.recording.extract import SessionTracker
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.retention import RetentionStats, RetentionTask, free_disk_bytes
from lunaroute.recording.worker._consume import JournalConsumer, UsageTally, usage_of
from lunaroute.recording.worker._protocol import (
    Failed,
    Lane,
    LaneRestarted,
    Ready,
    Stop,
    Sync,
    Synced,
    WorkerSpec,
    WorkerStats,
    decode_to_worker,
    encode,
)
from lunaroute.recording.worker._stores import local_store_paths, open_retention, open_writers, resolved_path
from lunaroute.types import ExchangeRecord

__all__ = ["main"]

_log = logging.getLogger("lunaroute.recording.worker")
_STEP_BYTES = 256 << 10
_MIN_POLL_SECS = 0.002
_MAX_POLL_SECS = 0.1
_CHECKPOINT_SECS = 1.0
_STATS_SECS = 1.0
_USAGE_SECS = 0.25


class _Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._out: list[bytes] = []
        self._wake = asyncio.Event()
        self._sync_token: int | None = None
        self._stopping = False
        self._gone = False
        self._deadline: float | None = None
        """When a bounded `Stop` arrived: the monotonic time past which the journal is left for the next start."""
        self._retention: RetentionTask | None = None
        self._disk_paths: dict[str, Path] = {}
        self._usage = UsageTally()
        self._usage_sent = 0.0
        self._sessions = SessionStats(spec.session_stats_max_sessions)
        self._consumers: list[JournalConsumer] = []
        self._closed_lanes: set[int] = set()
        """Lanes nothing writes to any more (left by processes that are gone), not yet finished."""

    def send(self, message: msgspec.Struct) -> None:
        self._out.append(encode(message))

    def send_usage(self) -> None:
        for report in self._usage.take():
            self.send(report)
        self._usage_sent = time.monotonic()

    def flush_out(self) -> None:
        if not self._out:
            return
        data, self._out = b"".join(self._out), []
        view = memoryview(data)
        with contextlib.suppress(BrokenPipeError):
            while view:
                view = view[os.write(1, view) :]

    async def _control(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
        while line := await reader.readline():
            try:
                message = decode_to_worker(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                _log.error("unreadable control line from the gateway: %s", exc)
                continue
            if isinstance(message, Sync):
                self._sync_token = message.token
            elif isinstance(message, Stop):
                self._stopping = True
                if message.drain_secs is not None:
                    self._deadline = time.monotonic() + message.drain_secs
            elif isinstance(message, LaneRestarted):
                if 0 <= message.lane < len(self._consumers):
                    self._consumers[message.lane].restarted(message.first_live_segment)
                else:
                    _log.error("restart of an unknown journal lane %d", message.lane)
            self._wake.set()
        self._gone = True
        self._wake.set()

    def stop_soon(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> int:
        config = self.spec.recording
        try:
            writers = await open_writers(config, log_sql=self.spec.log_sql_queries)
        except Exception as exc:  # noqa: BLE001 - reported to the gateway, which refuses to start with it
            self.send(Failed(message=f"{type(exc).__name__}: {exc}"))
            self.flush_out()
            return 1
        directory = resolved_path(config.journal_directory)
        recorder = Recorder(
            writers,
            spool_dir=directory / "spool",
            batch_size=config.worker.batch_size,
            batch_timeout_ms=config.worker.batch_timeout_ms,
            max_queue_events=config.worker.max_queue_events,
        )
        await recorder.start()
        lanes = self.spec.lanes or [Lane(str(directory), self.spec.first_live_segment)]
        tracker = SessionTracker()
        redact = build_redactor(config.redaction) or build_pii_redactor(config.pii)
        self._consumers = [
            JournalConsumer(
                Path(lane.directory),
                recorder,
                first_live_segment=lane.first_live_segment,
                redact=redact,
                on_end=self._ended,
                tracker=tracker,
            )
            for lane in lanes
        ]
        self._closed_lanes = {i for i, lane in enumerate(lanes) if lane.closed}
        consumers = self._consumers
        retention = open_retention(config)
        self._retention = retention
        self._disk_paths = local_store_paths(config, directory)
        self.send(Ready())
        self.flush_out()
        # Only now, with the stores open: in the idle class a recorder still starting would get no CPU while
        # other work keeps every core busy, and the gateway waits for it to be ready.
        _lower_priority(config.worker.nice, config.worker.sched_idle)
        control = asyncio.create_task(self._control(), name="lunaroute-worker-control")
        try:
            whole = await self._follow(consumers, recorder)
        finally:
            await cancel_and_wait(control)
            if retention is not None:
                await retention.aclose()
        if whole:
            # Everything journaled is recorded; what never ended belonged to a gateway that is gone.
            for consumer in consumers:
                consumer.finalize_open("the gateway stopped before this exchange finished")
            await recorder.aclose()
            for consumer in consumers:
                consumer.delete_all_read()
        else:
            # Out of time: the ends of the exchanges still open may be in the part not read. Keep every segment
            # not wholly recorded: the next start reads them again, as it does after a crash.
            await recorder.aclose()
            for consumer in consumers:
                consumer.delete(consumer.deletable())
            _log.warning("recorder stopped at its drain deadline; the rest of the journal is left for the next start")
        self.send_usage()
        self.send(self._stats(consumers, recorder))
        self.flush_out()
        self._sessions.log_summary()
        return 0

    def _ended(self, record: ExchangeRecord, events: list[SessionEvent]) -> None:
        report = usage_of(record, events)
        if report is not None:
            self._usage.add(report)
        session_id = next((e.session_id for e in events), None)
        if session_id is not None:
            self._sessions.add(
                session_id,
                model=report.model if report is not None else record.model_sent or record.model_requested,
                ok=record.status is not None and record.status < 400,
                input_tokens=report.input if report is not None else 0,
                output_tokens=report.output if report is not None else 0,
                cost_usd=report.cost_usd if report is not None else None,
                duration_ms=record.finished_ms,
            )
        if self.spec.log_requests:
            access_line(record, events)

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    async def _follow(self, consumers: list[JournalConsumer], recorder: Recorder) -> bool:
        """Record the journal until told to stop; True when everything journaled was read, False when a bounded
        stop's deadline passed first."""
        poll = _MIN_POLL_SECS
        last_checkpoint = last_stats = time.monotonic()
        max_queue = max(1, self.spec.recording.worker.max_queue_events // 2)
        while True:
            token, finishing = self._sync_token, self._stopping or self._gone
            while True:
                if self._out_of_time():
                    return False
                if not self._step_all(consumers):
                    break
                poll = _MIN_POLL_SECS
                if time.monotonic() - self._usage_sent >= _USAGE_SECS:
                    self.send_usage()
                self.flush_out()
                # The journal is the durable queue: let the stores catch up rather than spill to the spool.
                if recorder.queue_depth > max_queue:
                    await recorder.flush()
                await asyncio.sleep(0)
            self.send_usage()
            if finishing:
                return True
            now = time.monotonic()
            if token is not None or now - last_checkpoint >= _CHECKPOINT_SECS:
                deletable = [consumer.deletable() for consumer in consumers]
                await recorder.flush()
                for consumer, numbers in zip(consumers, deletable, strict=True):
                    consumer.delete(numbers)
                last_checkpoint = now
            if token is not None:
                if self._sync_token == token:
                    self._sync_token = None
                self.send(Synced(token=token))
            if token is not None or now - last_stats >= _STATS_SECS:
                self.send(self._stats(consumers, recorder))
                last_stats = now
            self.flush_out()
            if self._wake.is_set():
                self._wake.clear()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            poll = min(poll * 2, _MAX_POLL_SECS)

    def _step_all(self, consumers: list[JournalConsumer]) -> int:
        """One step of every lane, in turn (so a busy lane cannot starve the others); how many entries were read.
        A closed lane read to its end has its exchanges that never ended recorded as `interrupted`."""
        count = 0
        for index, consumer in enumerate(consumers):
            read = consumer.step(_STEP_BYTES // len(consumers) or 1)
            count += read
            if not read and index in self._closed_lanes:
                consumer.finalize_open("the gateway process writing it stopped before this exchange finished")
                self._closed_lanes.discard(index)
        return count

    def _stats(self, consumers: list[JournalConsumer], recorder: Recorder) -> WorkerStats:
        first = consumers[0]
        disk: dict[str, int] = {}
        for name, path in self._disk_paths.items():
            with contextlib.suppress(OSError):
                disk[name] = free_disk_bytes(path)
        retention = self._retention
        totals = retention.totals if retention is not None else RetentionStats()
        return WorkerStats(
            exchanges_recorded=sum(c.stats.exchanges_recorded for c in consumers),
            extraction_failures=sum(c.stats.extraction_failures for c in consumers),
            replayed_records=sum(c.stats.replayed_records for c in consumers),
            interrupted=sum(c.stats.interrupted for c in consumers),
            journal_segment=first.reader.segment,
            journal_offset=first.reader.offset,
            lane_positions=[(c.reader.segment, c.reader.offset) for c in consumers],
            recorder_queue=recorder.queue_depth,
            events_written=dict(recorder.events_written),
            events_failed=dict(recorder.events_failed),
            events_spooled=recorder.events_spooled,
            events_lost=recorder.events_lost,
            writers_degraded=recorder.writers_degraded,
            disk_free_bytes=disk,
            retention_runs=retention.runs if retention is not None else 0,
            retention_files_deleted=totals.files_deleted,
            retention_files_compressed=totals.files_compressed,
            retention_sessions_deleted=totals.sessions_deleted,
            retention_errors=totals.errors,
        )


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the gateway decides when the recorder stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    line = sys.stdin.buffer.readline()
    try:
        spec = msgspec.json.decode(line, type=WorkerSpec)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        sys.stderr.write(f"lunaroute recorder: unreadable start line: {exc}\n")
        return 2
    configure_logging(spec.log_level, spec.log_format)
    return asyncio.run(_run(spec))


def _lower_priority(nice: int, sched_idle: bool) -> None:
    """Give the gateway's request handling the CPU first: `nice`, and the idle scheduling class if asked."""
    if nice:
        os.nice(nice)
    if not sched_idle:
        return
    policy = getattr(os, "SCHED_IDLE", None)
    if policy is None:
        _log.warning("session_recording.worker.sched_idle: this platform has no idle scheduling class; nice only")
        return
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as exc:
        _log.warning("session_recording.worker.sched_idle: could not enter the idle class (%s); nice only", exc)


async def _run(spec: WorkerSpec) -> int:
    worker = _Worker(spec)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop_soon)
    return await worker.run()
