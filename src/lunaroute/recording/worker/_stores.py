"""Open the stores `session_recording` enables, and the retention task that prunes them."""

from __future__ import annotations

from pathlib import Path

from lunaroute.config import SessionRecordingConfig
from lunaroute.recording._crypto import writer_cipher
from lunaroute.recording._types import SessionWriter
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.retention import RetentionPolicy, RetentionTask
from lunaroute.recording.sqlite import SqliteWriter

__all__ = ["local_store_paths", "open_retention", "open_writers", "resolved_path"]


def resolved_path(value: str | None) -> Path:
    if value is None:
        raise ValueError("recording paths are resolved when the config is loaded")
    return Path(value)


async def open_writers(config: SessionRecordingConfig, *, log_sql: bool = False) -> list[SessionWriter]:
    """Every enabled writer, opened (a store that cannot be opened raises); `log_sql` logs SQLite statements."""
    writers: list[SessionWriter] = []
    if config.jsonl.enabled:
        writers.append(
            JsonlWriter(
                resolved_path(config.jsonl.directory),
                fsync=config.jsonl.fsync,
                cipher=writer_cipher(config.encryption),
            )
        )
    if config.sqlite.enabled:
        writers.append(
            await SqliteWriter.open(
                resolved_path(config.sqlite.path), synchronous=config.sqlite.synchronous, log_sql=log_sql
            )
        )
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
                max_lifetime_s=pg.max_lifetime_seconds,
            )
        )
    return writers


def open_retention(config: SessionRecordingConfig) -> RetentionTask | None:
    """The retention task over the JSONL tree and the SQLite database, started; None when neither is on."""
    jsonl_dir = resolved_path(config.jsonl.directory) if config.jsonl.enabled else None
    sqlite_path = resolved_path(config.sqlite.path) if config.sqlite.enabled else None
    if jsonl_dir is None and sqlite_path is None:
        return None
    policy = config.jsonl.retention
    task = RetentionTask(
        RetentionPolicy(
            max_age_days=policy.max_age_days,
            max_total_size_gb=policy.max_total_size_gb,
            compress_after_days=policy.compress_after_days,
            cleanup_interval_minutes=policy.cleanup_interval_minutes,
        ),
        jsonl_dir=jsonl_dir,
        sqlite_path=sqlite_path,
    )
    task.start()
    return task


def local_store_paths(config: SessionRecordingConfig, journal: Path) -> dict[str, Path]:
    """Where each local store lives, for the free-space gauge."""
    paths = {"journal": journal}
    if config.jsonl.enabled:
        paths["jsonl"] = resolved_path(config.jsonl.directory)
    if config.sqlite.enabled:
        paths["sqlite"] = resolved_path(config.sqlite.path).parent
    return paths
