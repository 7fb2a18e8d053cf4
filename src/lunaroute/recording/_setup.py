"""Build the recording stack from `session_recording`: writers, recorder, capture, retention."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lunaroute.config import SessionRecordingConfig
from lunaroute.recording._capture import Capture, Observer
from lunaroute.recording._types import SessionWriter
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.retention import RetentionPolicy, RetentionTask
from lunaroute.recording.sqlite import SqliteWriter

__all__ = ["RecordingStack", "open_recording"]


@dataclass(slots=True)
class RecordingStack:
    capture: Capture
    retention: RetentionTask | None

    async def aclose(self) -> None:
        if self.retention is not None:
            await self.retention.aclose()
        await self.capture.aclose()


def _path(value: str | None) -> Path:
    if value is None:
        raise ValueError("recording paths are resolved when the config is loaded")
    return Path(value)


async def open_recording(config: SessionRecordingConfig, observer: Observer | None = None) -> RecordingStack:
    """Open every enabled store, start the recorder and the capture task (and retention when configured)."""
    writers: list[SessionWriter] = []
    jsonl_dir = _path(config.jsonl.directory) if config.jsonl.enabled else None
    sqlite_path = _path(config.sqlite.path) if config.sqlite.enabled else None
    if jsonl_dir is not None:
        writers.append(JsonlWriter(jsonl_dir, fsync=config.jsonl.fsync))
    if sqlite_path is not None:
        writers.append(await SqliteWriter.open(sqlite_path, synchronous=config.sqlite.synchronous))
    if config.postgres.enabled:
        from lunaroute.recording.postgres import PostgresWriter

        pg = config.postgres
        writers.append(
            await PostgresWriter.open(
                pg.connection_string,
                schema=pg.schema,
                min_connections=pg.min_connections,
                max_connections=pg.max_connections,
                acquire_timeout_s=pg.acquire_timeout_seconds,
                max_inactive_connection_lifetime_s=pg.idle_timeout_seconds,
            )
        )
    journal_dir = _path(config.journal_directory)
    recorder = Recorder(
        writers,
        spool_dir=journal_dir / "spool",
        batch_size=config.worker.batch_size,
        batch_timeout_ms=config.worker.batch_timeout_ms,
        max_queue_events=config.worker.max_queue_events,
    )
    capture = Capture(recorder, journal_dir, sample_rate=config.sample_rate, observer=observer)
    await capture.start()
    retention = None
    policy = config.jsonl.retention
    if jsonl_dir is not None or sqlite_path is not None:
        retention = RetentionTask(
            RetentionPolicy(
                max_age_days=policy.max_age_days,
                max_total_size_gb=policy.max_total_size_gb,
                compress_after_days=policy.compress_after_days,
                cleanup_interval_minutes=policy.cleanup_interval_minutes,
            ),
            jsonl_dir=jsonl_dir,
            sqlite_path=sqlite_path,
        )
        retention.start()
    return RecordingStack(capture, retention)
