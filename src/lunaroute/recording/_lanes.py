"""Journal lanes: with `serve --workers N` each worker process journals to a directory of its own
(`<journal_directory>/worker-<i>`), and one recorder process, owned by the supervising process, follows them all
into the same stores.

The supervisor holds `<journal_directory>/lock` for the whole run (so a second gateway on the same
`LUNAROUTE_HOME` waits, as it does for a single-process one), tells each worker the segment number its journal
starts at, and, when a worker dies and another takes its lane, tells the recorder where the new one starts: the
exchanges the dead worker began and never ended are then recorded as `interrupted`, and nothing is recorded
twice. Journals left by an earlier run (the top-level directory of a single-process run, or lanes beyond the
current worker count) are followed as closed lanes until they are recorded.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from lunaroute.config import SessionRecordingConfig
from lunaroute.recording._capture import Capture, RecorderHandle
from lunaroute.recording._journal import Journal, lock_directory
from lunaroute.recording._segments import segments
from lunaroute.recording.worker._process import STOP_DRAIN_SECS, STOP_GRACE_SECS, WorkerProcess
from lunaroute.recording.worker._protocol import Lane, UsageReport, WorkerSpec, WorkerStats
from lunaroute.scrub import Scrubber

__all__ = ["SharedRecorder", "lane_directory", "leftover_lanes", "next_segment", "open_lane_capture"]


def lane_directory(journal: Path, index: int) -> Path:
    """Where worker `index` journals."""
    return journal / f"worker-{index}"


def next_segment(directory: Path) -> int:
    """The number a new writer of `directory` starts at: one past every segment there."""
    existing = segments(directory) if directory.is_dir() else []
    return (existing[-1] if existing else 0) + 1


def leftover_lanes(journal: Path, live: set[Path]) -> list[Lane]:
    """Journals under `journal` (itself included) that hold segments and that no process of this run writes."""
    candidates = [journal, *sorted(p for p in journal.glob("worker-*") if p.is_dir())]
    return [Lane(str(d), next_segment(d), closed=True) for d in candidates if d not in live and segments(d)]


class SharedRecorder:
    """The supervisor's side: the journal directory's lock and the recorder process following every lane."""

    def __init__(self, process: WorkerProcess, lock_fd: int, journal: Path, workers: int) -> None:
        self.process = process
        self.journal = journal
        self.workers = workers
        self._lock_fd: int | None = lock_fd

    @classmethod
    async def start(
        cls,
        config: SessionRecordingConfig,
        workers: int,
        *,
        on_usage: Callable[[UsageReport], None] | None = None,
        log_level: str = "info",
        log_format: str = "auto",
        log_requests: bool = False,
        log_sql_queries: bool = False,
        session_stats_max_sessions: int = 0,
    ) -> SharedRecorder:
        """Take the journal directory's lock (waiting for a previous run's recorder), lay out one lane per worker
        and start the recorder; raises `ConfigError` when a store cannot be opened."""
        if config.journal_directory is None:
            raise ValueError("recording paths are resolved when the config is loaded")
        journal = Path(config.journal_directory)
        lock_fd = await asyncio.to_thread(lock_directory, journal)
        try:
            live = [lane_directory(journal, i) for i in range(workers)]
            for directory in live:
                directory.mkdir(mode=0o700, exist_ok=True)
            lanes = [Lane(str(d), next_segment(d)) for d in live] + leftover_lanes(journal, set(live))
            spec = WorkerSpec(
                recording=config,
                first_live_segment=lanes[0].first_live_segment,
                log_level=log_level,
                log_format=log_format,
                log_requests=log_requests,
                log_sql_queries=log_sql_queries,
                session_stats_max_sessions=session_stats_max_sessions,
                lanes=lanes,
            )
            process = WorkerProcess(spec, lock_fd=lock_fd, on_usage=on_usage)
            await process.start()
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(process, lock_fd, journal, workers)

    def lane(self, index: int) -> tuple[Path, int]:
        """Lane `index`'s directory and the segment its writer starts at."""
        lane = self.process.spec.lanes[index]
        return Path(lane.directory), lane.first_live_segment

    def restart_lane(self, index: int) -> int:
        """Worker `index` died: the segment its successor starts at, which the recorder now expects."""
        first = next_segment(Path(self.process.spec.lanes[index].directory))
        self.process.restart_lane(index, first)
        return first

    @property
    def stats(self) -> WorkerStats:
        return self.process.stats

    @property
    def restarts(self) -> int:
        return self.process.restarts

    async def sync(self) -> None:
        await self.process.sync()

    async def aclose(self, drain_secs: float = STOP_DRAIN_SECS, grace_secs: float = STOP_GRACE_SECS) -> None:
        """After every worker has exited: record what the lanes hold, stop the recorder, release the lock."""
        try:
            await self.process.stop(drain_secs, grace_secs)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


async def open_lane_capture(
    config: SessionRecordingConfig,
    index: int,
    first_segment: int,
    recorder: RecorderHandle,
    *,
    scrub: Scrubber | None = None,
) -> Capture:
    """A worker's capture: its own lane's journal, recorded by the supervisor's shared recorder."""
    if config.journal_directory is None:
        raise ValueError("recording paths are resolved when the config is loaded")
    journal = Journal(lane_directory(Path(config.journal_directory), index))
    await asyncio.to_thread(lambda: journal.open(first_segment=first_segment))
    return Capture(journal, recorder, sample_rate=config.sample_rate, scrub=scrub, lane=index)
