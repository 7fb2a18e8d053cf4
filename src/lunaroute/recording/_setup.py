"""Start session recording from `session_recording`: the journal, and the recorder process behind it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lunaroute.config import SessionRecordingConfig
from lunaroute.recording._capture import Capture
from lunaroute.recording._journal import Journal
from lunaroute.recording._lanes import leftover_lanes
from lunaroute.recording.worker._process import WorkerProcess
from lunaroute.recording.worker._protocol import Lane, UsageReport, WorkerSpec
from lunaroute.scrub import Scrubber

__all__ = ["RecordingStack", "open_recording"]


@dataclass(slots=True)
class RecordingStack:
    capture: Capture

    async def aclose(self) -> None:
        await self.capture.aclose()


async def open_recording(
    config: SessionRecordingConfig,
    *,
    on_usage: Callable[[UsageReport], None] | None = None,
    log_level: str = "info",
    log_format: str = "auto",
    log_requests: bool = False,
    log_sql_queries: bool = False,
    session_stats_max_sessions: int = 0,
    scrub: Scrubber | None = None,
    owner: tuple[str, int] | None = None,
) -> RecordingStack:
    """Open the journal (waiting for a previous run's recorder to finish with it) and start the recorder
    process; raises `ConfigError` when a store cannot be opened. Lanes a run with several workers left
    (`recording._lanes`) are recorded too. `owner` (the gateway's listener host and port) lets a second gateway
    on the same journal fail at once, naming this one (`_journal.lock_directory`)."""
    if config.journal_directory is None:
        raise ValueError("recording paths are resolved when the config is loaded")
    directory = Path(config.journal_directory)
    journal = Journal(directory)
    first = await asyncio.to_thread(functools.partial(journal.open, owner=owner))
    leftovers = await asyncio.to_thread(leftover_lanes, directory, {directory})
    lanes = [Lane(str(directory), first), *leftovers] if leftovers else []
    spec = WorkerSpec(
        recording=config,
        first_live_segment=first,
        log_level=log_level,
        log_format=log_format,
        log_requests=log_requests,
        log_sql_queries=log_sql_queries,
        session_stats_max_sessions=session_stats_max_sessions,
        lanes=lanes,
    )
    worker = WorkerProcess(spec, lock_fd=journal.lock_fd, on_usage=on_usage)
    try:
        await worker.start()
    except BaseException:
        journal.close()
        journal.unlock()
        raise
    return RecordingStack(Capture(journal, worker, sample_rate=config.sample_rate, scrub=scrub))
