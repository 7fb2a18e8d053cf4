"""A store outage, end to end: PostgreSQL behind a TCP relay that is cut for a while. Events recorded during the
outage go to the spool and reach the database once it is back, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import pytest
from tests._needs import pg_url
from tests.recording._builders import request_events

from lunaroute.recording import Recorder
from lunaroute.recording.postgres import PostgresWriter


class Relay:
    """A TCP relay to PostgreSQL that can be taken down (connections reset, new ones refused) and up again."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 5432
        self.up = True
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def down(self) -> None:
        self.up = False
        for writer in list(self._writers):
            transport = writer.transport
            if transport is not None:
                transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.down()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
def schema() -> str:
    return f"lr_outage_{uuid.uuid4().hex[:12]}"


async def test_database_down_episode_loses_nothing(pg_dsn: str, schema: str, tmp_path: Path) -> None:
    relay = Relay(pg_dsn)
    await relay.start()
    writer = await PostgresWriter.open(
        pg_url(pg_dsn, host="127.0.0.1", port=relay.port), schema=schema, acquire_timeout_s=2
    )
    recorder = Recorder(
        [writer], spool_dir=tmp_path / "spool", batch_timeout_ms=20, retry_initial_s=0.2, retry_max_s=0.5
    )
    await recorder.start()
    try:
        for i in range(10):
            for event in request_events(f"before-{i}", f"r-before-{i}"):
                recorder.record(event)
        await recorder.flush()
        relay.down()
        for i in range(10):
            for event in request_events(f"during-{i}", f"r-during-{i}"):
                recorder.record(event)
        await asyncio.sleep(1.0)
        assert recorder.events_spooled > 0
        relay.up = True
        for _ in range(100):
            if recorder.events_replayed.get(writer.name, 0) > 0 and recorder.events_spooled and not _pending(tmp_path):
                break
            await asyncio.sleep(0.1)
        await recorder.flush()
    finally:
        await recorder.aclose()
        await relay.close()
    conn = await asyncpg.connect(pg_dsn, timeout=5)
    try:
        sessions = {r[0] for r in await conn.fetch(f'SELECT session_id FROM "{schema}".sessions')}
        per_request = await conn.fetch(f'SELECT request_id, COUNT(*) FROM "{schema}".session_stats GROUP BY request_id')
    finally:
        await conn.close()
    assert sessions == {f"before-{i}" for i in range(10)} | {f"during-{i}" for i in range(10)}
    assert len(per_request) == 20
    assert {count for _, count in per_request} == {1}
    assert recorder.events_lost == 0


def _pending(spool_dir: Path) -> bool:
    return any(path.stat().st_size for path in (spool_dir / "spool").glob("*.spool.jsonl"))


async def test_disk_full_episode_loses_nothing(tmp_path: Path) -> None:
    """The session file is made to sit on `/dev/full` (every write fails with ENOSPC, as on a full disk); once
    space is back (the file is a plain file again) the spooled events are written, in order, once."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    from lunaroute.recording import JsonlWriter, read_session_file

    sessions = tmp_path / "sessions"
    writer = JsonlWriter(sessions)
    recorder = Recorder(
        [writer], spool_dir=tmp_path / "spool", batch_timeout_ms=20, retry_initial_s=0.2, retry_max_s=0.5
    )
    await recorder.start()
    events = request_events("full-disk", "r-1") + request_events("full-disk", "r-2")
    day_dir = sessions / events[0].timestamp.date().isoformat()
    day_dir.mkdir(parents=True)
    target = day_dir / "full-disk.jsonl"
    target.symlink_to("/dev/full")
    try:
        for event in events:
            recorder.record(event)
        await asyncio.sleep(0.8)
        assert recorder.events_failed[writer.name] > 0
        assert recorder.events_spooled > 0
        target.unlink()  # space is back
        for _ in range(100):
            await asyncio.sleep(0.1)
            if target.exists() and len(read_session_file(target).events) >= len(events):
                break
    finally:
        await recorder.aclose()
    stored = read_session_file(target).events
    assert [(e.request_id, type(e).__name__) for e in stored] == [(e.request_id, type(e).__name__) for e in events]
    assert recorder.events_lost == 0
