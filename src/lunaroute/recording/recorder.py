"""The `Recorder`: a non-blocking `record()` on the request path, one ordered queue, batched writes to every store.

Order: one in-memory queue and one consumer task, so events reach every writer in the order `record()` saw
them (the events of a request stay in order, and so does the whole stream).

Memory is bounded by `max_queue_events`. When the queue is full, `record()` appends the event to an overflow
spool file instead (a page-cache write; the consumer fsyncs it), and keeps doing so until the consumer has
emptied the queue and sealed that file, so order still holds: sealed overflow files are older than the queue,
which is older than the open overflow file. When a writer fails, its batch goes to that writer's spool and is
replayed later (see `WriterLane`). Spool files survive a restart and are replayed by the next `start()`.

Nothing is dropped silently: an event that reaches neither its store nor a spool is counted in `events_lost`
and logged, one line each; an invalid session id is counted in `events_rejected` and logged.

Lifecycle: `await start()` before the first `record()`; `await aclose()` at shutdown drains the queue and
the overflow spools, retries failed writers once, then flushes and closes every writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lunaroute.recording._fsio import ensure_dir
from lunaroute.recording._lane import WriterLane, log_lost
from lunaroute.recording._types import SessionWriter
from lunaroute.recording.codec import DEFAULT_MAX_FIELD_CHARS, encode_line, sanitize_event
from lunaroute.recording.events import SessionEvent, is_valid_session_id
from lunaroute.recording.spool import Spool

__all__ = ["Recorder"]

_log = logging.getLogger("lunaroute.recording")
_REPLAY_CHUNKS_PER_ROUND = 10


class Recorder:
    """Batches recorded events to `writers` (each writer needs a distinct `name`).

    Counters (plain attributes, read by metrics): `events_recorded`, `events_written[name]`,
    `events_failed[name]` (events a writer failed to take directly), `events_replayed[name]`,
    `events_spooled` (to any spool), `events_rejected`, `events_lost`, and the `queue_depth` property.
    """

    def __init__(
        self,
        writers: Sequence[SessionWriter],
        *,
        spool_dir: Path,
        batch_size: int = 100,
        batch_timeout_ms: float = 100.0,
        max_queue_events: int = 10_000,
        max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        names = [w.name for w in writers]
        if len(set(names)) != len(names):
            raise ValueError(f"writer names must be distinct, got {names}")
        if batch_size < 1 or max_queue_events < 1:
            raise ValueError("batch_size and max_queue_events must be positive")
        self._spool_dir = spool_dir
        self._batch_size = batch_size
        self._batch_timeout_s = batch_timeout_ms / 1000.0
        self._max_queue = max_queue_events
        self._max_field_chars = max_field_chars
        self._queue: deque[SessionEvent] = deque()
        self._overflow: Spool | None = None
        self._sealed: deque[Spool] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._urgent = False
        self._flush_writers = False
        self._closed = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lunaroute-spool")
        self._lanes = [
            WriterLane(
                w,
                Spool(spool_dir / f"{w.name}.spool.jsonl"),
                self._run_io,
                chunk_size=batch_size,
                max_field_chars=max_field_chars,
                retry_initial_s=retry_initial_s,
                retry_max_s=retry_max_s,
            )
            for w in writers
        ]
        self.events_recorded = 0
        self.events_spooled_overflow = 0
        self.events_rejected = 0
        self._lost_here = 0

    # -- counters ---------------------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def events_written(self) -> dict[str, int]:
        return {lane.name: lane.written for lane in self._lanes}

    @property
    def events_failed(self) -> dict[str, int]:
        return {lane.name: lane.failed for lane in self._lanes}

    @property
    def events_replayed(self) -> dict[str, int]:
        return {lane.name: lane.replayed for lane in self._lanes}

    @property
    def events_spooled(self) -> int:
        return self.events_spooled_overflow + sum(lane.spooled for lane in self._lanes)

    @property
    def writers_degraded(self) -> list[str]:
        """Writers whose events go to their spool (replayed once they write again) or are being lost."""
        return [lane.name for lane in self._lanes if lane.degraded or lane.losing]

    @property
    def events_lost(self) -> int:
        return self._lost_here + sum(lane.lost for lane in self._lanes)

    # -- lifecycle --------------------------------------------------------------------------------------

    async def _run_io(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def start(self) -> None:
        """Create the spool directory, pick up spools left by a previous run, start the consumer task."""
        if self._task is not None:
            raise RuntimeError("Recorder already started")
        await self._run_io(ensure_dir, self._spool_dir)
        leftovers = await self._run_io(lambda: sorted(self._spool_dir.glob("overflow-*.jsonl")))
        if self._overflow is not None and self._overflow.path in leftovers:
            self._overflow.close()
            self._overflow = None  # recorded before start(): already in `leftovers`
        for path in leftovers:
            spool = Spool(path)
            await self._run_io(spool.recover)
            self._sealed.append(spool)
        if leftovers:
            _log.warning("recorder: replaying %d overflow spool file(s) from a previous run", len(leftovers))
        for lane in self._lanes:
            await lane.recover()
        self._task = asyncio.create_task(self._consume(), name="lunaroute-recorder")

    async def flush(self) -> None:
        """Wait until every event recorded so far was handed to the writers, then flush the writers."""
        if self._task is None or self._task.done():
            return
        self._idle.clear()
        self._urgent = True
        self._flush_writers = True
        self._wakeup.set()
        await self._idle.wait()

    async def aclose(self) -> None:
        """Graceful shutdown: drain everything, retry failed writers once, flush and close each writer."""
        if self._task is None:
            self._executor.shutdown(wait=False)
            return
        self._closing = True
        self._urgent = True
        self._wakeup.set()
        try:
            await self._task
        finally:
            self._closed = True
            for lane in self._lanes:
                if lane.degraded:
                    await lane.replay(max_chunks=1_000_000)
                if lane.degraded:
                    _log.warning("writer %s still failing; its events stay spooled for the next start", lane.name)
                for step in (lane.writer.flush, lane.writer.close):
                    try:
                        await step()
                    except Exception as exc:  # noqa: BLE001 - one writer must not stop the others closing
                        _log.error("writer %s: %s failed at shutdown: %r", lane.name, step.__name__, exc)
                await self._run_io(lane.spool.close)
            self._executor.shutdown(wait=True)

    # -- request path -----------------------------------------------------------------------------------

    def record(self, event: SessionEvent) -> None:
        """Enqueue `event`; never blocks on I/O except a page-cache append when the queue is full.

        Call from the event loop thread. Invalid session ids are rejected (counted, logged).
        """
        if not is_valid_session_id(event.session_id):
            self.events_rejected += 1
            _log.error("session event rejected: invalid session id %r", event.session_id[:64])
            return
        self.events_recorded += 1
        if self._closed:
            self._spill(event, after_close=True)
            return
        if self._overflow is not None or len(self._queue) >= self._max_queue:
            self._spill(event)
            return
        self._queue.append(event)
        n = len(self._queue)
        if n == 1 or n >= self._batch_size:
            self._wakeup.set()

    def _spill(self, event: SessionEvent, *, after_close: bool = False) -> None:
        if self._overflow is None:
            self._overflow = Spool(self._spool_dir / f"overflow-{time.time_ns():020d}.jsonl")
        try:
            self._overflow.append_nowait(encode_line(event, self._max_field_chars))
        except OSError as exc:
            self._lost_here += 1
            log_lost([event], f"queue full and the overflow spool failed: {exc!r}")
            return
        self.events_spooled_overflow += 1
        if after_close:
            _log.warning("event recorded after shutdown kept in the spool for the next start")
            self._overflow.close()
            self._overflow = None

    # -- consumer ---------------------------------------------------------------------------------------

    def _has_work(self) -> bool:
        return bool(self._queue or self._sealed or self._overflow is not None)

    async def _consume(self) -> None:
        while True:
            try:
                if not self._has_work():
                    if self._flush_writers:
                        self._flush_writers = False
                        await self._flush_all()
                    self._urgent = False
                    self._idle.set()
                    if self._closing:
                        self._closed = True  # from here on, record() spools for the next start
                        return
                    await self._wait_idle()
                    await self._replay_due()
                    continue
                await self._step()
            except Exception as exc:  # noqa: BLE001 - the consumer must outlive any one bad step
                _log.exception("recorder consumer error (continuing): %r", exc)
                await asyncio.sleep(0.1)

    async def _wait_idle(self) -> None:
        self._wakeup.clear()
        if self._has_work() or self._urgent:
            return
        due = [lane.next_retry for lane in self._lanes if lane.degraded]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _step(self) -> None:
        if self._sealed:
            await self._drain_sealed()
        elif self._queue:
            await self._fill_batch()
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            await self._dispatch(batch)
        else:
            spool, self._overflow = self._overflow, None
            if spool is not None:
                self._sealed.append(spool)
        await self._replay_due()

    async def _fill_batch(self) -> None:
        """Wait up to `batch_timeout_ms` for the batch to fill (unless flushing or closing)."""
        deadline = time.monotonic() + self._batch_timeout_s
        while len(self._queue) < self._batch_size and not self._urgent:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    async def _drain_sealed(self) -> None:
        spool = self._sealed[0]
        await self._run_io(spool.sync)
        chunk = await self._run_io(spool.read, self._batch_size)
        if chunk.events:
            await self._dispatch(chunk.events)
        if chunk.events or chunk.bad_lines:
            await self._run_io(spool.commit, chunk.end_offset)
        if not chunk.events and not chunk.bad_lines:
            await self._run_io(spool.remove)
            self._sealed.popleft()

    async def _dispatch(self, batch: list[SessionEvent]) -> None:
        clean = [sanitize_event(ev, self._max_field_chars) for ev in batch]
        await asyncio.gather(*(lane.deliver(clean) for lane in self._lanes))

    async def _replay_due(self) -> None:
        now = time.monotonic()
        for lane in self._lanes:
            if lane.due(now):
                await lane.replay(_REPLAY_CHUNKS_PER_ROUND)

    async def _flush_all(self) -> None:
        for lane in self._lanes:
            try:
                await lane.writer.flush()
            except Exception as exc:  # noqa: BLE001 - logged; the next batch retries the writer
                _log.error("writer %s: flush failed: %r", lane.name, exc)
