"""One writer's delivery lane: write a batch, spool it when the writer fails, replay the spool with backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from lunaroute.recording._types import SessionWriter
from lunaroute.recording.codec import encode_line
from lunaroute.recording.events import SessionEvent
from lunaroute.recording.spool import Spool

__all__ = ["RunIO", "WriterLane", "log_lost"]

_log = logging.getLogger("lunaroute.recording")
_T = TypeVar("_T")
RunIO = Callable[..., Awaitable[Any]]
"""Runs a blocking callable (with its arguments) in the recorder's spool I/O thread."""


def log_lost(events: Sequence[SessionEvent], reason: str) -> None:
    """One error log line per event that neither reached its store nor a spool."""
    for ev in events:
        _log.error(
            "session event lost: type=%s session_id=%s request_id=%s: %s",
            type(ev).__name__,
            ev.session_id,
            ev.request_id,
            reason,
        )


class WriterLane:
    """Delivers batches to one writer in order; while its spool holds events, new batches queue behind them.

    Fires: `deliver` once per batch from the recorder's consumer task; `replay` from the same task when
    `due()` (exponential backoff from `retry_initial_s` to `retry_max_s` after each failure).
    """

    def __init__(
        self,
        writer: SessionWriter,
        spool: Spool,
        run_io: RunIO,
        *,
        chunk_size: int,
        max_field_chars: int,
        retry_initial_s: float,
        retry_max_s: float,
    ) -> None:
        self.writer = writer
        self.spool = spool
        self._run_io = run_io
        self._chunk_size = chunk_size
        self._max_field_chars = max_field_chars
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._backoff_s = retry_initial_s
        self.next_retry = 0.0
        self.degraded = False
        self.written = 0
        self.failed = 0
        self.spooled = 0
        self.replayed = 0
        self.lost = 0
        self.losing = False
        """Neither the writer nor its spool took the last batch: an episode of losses, logged once."""
        self._lost_at_start = 0

    @property
    def name(self) -> str:
        return self.writer.name

    async def recover(self) -> None:
        """At start: repair a torn spool tail and resume replaying whatever a previous run left."""
        await self._run_io(self.spool.recover)
        self.degraded = bool(await self._run_io(self.spool.pending))
        if self.degraded:
            _log.warning("writer %s: replaying events spooled by a previous run", self.name)

    def due(self, now: float) -> bool:
        return self.degraded and now >= self.next_retry

    async def deliver(self, batch: Sequence[SessionEvent]) -> None:
        """Write `batch`; on failure (or while degraded) append it to the spool instead. Never raises."""
        if not self.degraded:
            try:
                await self.writer.write_batch(batch)
            except Exception as exc:  # noqa: BLE001 - any writer failure means: spool and retry later
                self.failed += len(batch)
                if not self.losing:
                    _log.warning("writer %s failed a batch of %d events, spooling: %r", self.name, len(batch), exc)
                self._schedule_retry()
            else:
                self._stop_losing()
                self.written += len(batch)
                return
        await self._to_spool(batch)

    async def _to_spool(self, batch: Sequence[SessionEvent]) -> None:
        lines = [encode_line(ev, self._max_field_chars) for ev in batch]
        try:
            await self._run_io(self.spool.append, lines)
        except OSError as exc:
            self.lost += len(batch)
            if not self.losing:
                # One line per episode (a full disk would otherwise log every event): the rest are counted.
                self.losing = True
                self._lost_at_start = self.lost - len(batch)
                _log.error(
                    "writer %s failed and its spool cannot be written (%r): session events are being lost "
                    "(counted in lunaroute_recorder_events_lost) until one of them can be written again",
                    self.name,
                    exc,
                )
            return
        self._stop_losing()
        self.spooled += len(batch)
        self.degraded = True

    def _stop_losing(self) -> None:
        if self.losing:
            self.losing = False
            _log.warning(
                "writer %s: writing again; %d session events were lost", self.name, self.lost - self._lost_at_start
            )

    def _schedule_retry(self) -> None:
        self.next_retry = time.monotonic() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self._retry_max_s)

    async def replay(self, max_chunks: int) -> None:
        """Replay up to `max_chunks` spool chunks into the writer; stop at the first failure. Never raises."""
        for _ in range(max_chunks):
            try:
                chunk = await self._run_io(self.spool.read, self._chunk_size)
            except OSError as exc:
                _log.error("writer %s: spool unreadable, will retry: %r", self.name, exc)
                self._schedule_retry()
                return
            if chunk.events:
                try:
                    await self.writer.write_batch(chunk.events)
                except Exception as exc:  # noqa: BLE001 - any writer failure means: keep spooled, retry
                    _log.warning("writer %s: replay of %d events failed: %r", self.name, len(chunk.events), exc)
                    self._schedule_retry()
                    return
                self.written += len(chunk.events)
                self.replayed += len(chunk.events)
            try:
                await self._run_io(self.spool.commit, chunk.end_offset)
            except OSError as exc:
                _log.error("writer %s: spool offset not saved (a chunk may replay twice): %r", self.name, exc)
            if not await self._run_io(self.spool.pending):
                self.degraded = False
                self._backoff_s = self._retry_initial_s
                _log.info("writer %s recovered; its spool was replayed", self.name)
                return
