"""The journal and the recorder process: segments followed in order, torn lines skipped, segments deleted only
when everything begun in them has ended and is flushed, one gateway per journal, a store that cannot open stops
the start, and a recorder process that dies is restarted without losing an exchange."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import msgspec
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.recording._journal import Journal, JournalReader, segment_path, segments
from lunaroute.recording._setup import open_recording
from lunaroute.recording.events import Completed, SessionEvent
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.worker._consume import JournalConsumer, UsageTally
from lunaroute.recording.worker._protocol import UsageReport
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply
from lunaroute.types import Endpoint, ExchangeRecord


def record(request_id: str, *, ended: bool = False) -> ExchangeRecord:
    body = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'
    rec = ExchangeRecord(
        request_id=request_id,
        started_at=time.time(),
        listener="openai",
        endpoint=Endpoint.OPENAI_CHAT,
        method="POST",
        path="/v1/chat/completions",
        request_headers=[("user-agent", "test/1")],
        request_body=body,
        model_requested="gpt-x",
        is_streaming=False,
    )
    if ended:
        rec.provider, rec.status, rec.outcome = "openai", 200, "ok"
        rec.response_body = b'{"id":"c","object":"chat.completion","model":"gpt-x","choices":[]}'
        rec.finished_ms = 1.0
    return rec


class ListWriter:
    """A store that keeps what it is given."""

    name = "list"

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []

    async def write_batch(self, events: Sequence[SessionEvent]) -> None:
        self.events.extend(events)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


def test_reader_follows_segments_in_order_and_skips_a_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path, rotate_secs=3600)
    first = journal.open()
    journal.stage("start", record("a"))
    journal.flush()
    reader = JournalReader(tmp_path)
    assert [(seg, e.record.request_id) for seg, e in reader.read()] == [(first, "a")]
    journal.rotate()
    journal.stage("end", record("a", ended=True))
    journal.flush()
    # A torn line (no newline) at the end of the closed first segment is skipped, not mis-read.
    with open(segment_path(tmp_path, first), "ab") as handle:
        handle.write(b'{"kind":"start","rec')
    entries = [(seg, e.kind, e.record.request_id) for seg, e in reader.read()]
    assert entries == [(first + 1, "end", "a")]
    assert reader.completed == [first]
    # The end entry leaves the request body out: the start has it.
    assert list(JournalReader(tmp_path).read())[-1][1].record.request_body == b""
    journal.close()
    journal.unlock()


def test_a_partial_line_is_read_once_it_is_complete(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    first = journal.open()
    reader = JournalReader(tmp_path)
    line = b'{"kind":"start","record":' + msgspec.json.encode(record("p")) + b"}\n"
    with open(segment_path(tmp_path, first), "ab") as handle:
        handle.write(line[:30])
        handle.flush()
        assert list(reader.read()) == []
        handle.write(line[30:])
    assert [e.record.request_id for _, e in reader.read()] == ["p"]
    journal.close()
    journal.unlock()


async def test_segments_are_deleted_only_when_their_exchanges_ended_and_were_flushed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", rotate_secs=3600)
    first = journal.open()
    writer = ListWriter()
    recorder = Recorder([writer], spool_dir=tmp_path / "spool")
    await recorder.start()
    consumer = JournalConsumer(tmp_path / "j", recorder, first_live_segment=first)
    journal.stage("start", record("long"))
    journal.stage("start", record("short"))
    journal.flush()
    journal.rotate()
    journal.stage("end", record("short", ended=True))
    journal.flush()
    journal.rotate()
    consumer.step()
    # Segment `first` holds the start of an exchange still open: nothing may go yet.
    assert consumer.deletable() == []
    journal.stage("end", record("long", ended=True))
    journal.flush()
    journal.rotate()
    consumer.step()
    assert consumer.deletable() == [first, first + 1, first + 2]
    await recorder.flush()
    consumer.delete(consumer.deletable())
    assert segments(tmp_path / "j") == [first + 3]
    done = {e.request_id for e in writer.events if isinstance(e, Completed)}
    assert done == {"long", "short"}
    await recorder.aclose()
    journal.close()
    journal.unlock()


async def test_a_start_left_by_a_gone_gateway_is_recorded_as_interrupted(tmp_path: Path) -> None:
    old = Journal(tmp_path / "j")
    old.open()
    old.stage("start", record("cut"))
    old.close()
    old.unlock()
    journal = Journal(tmp_path / "j")
    first = journal.open()
    writer = ListWriter()
    recorder = Recorder([writer], spool_dir=tmp_path / "spool")
    await recorder.start()
    consumer = JournalConsumer(tmp_path / "j", recorder, first_live_segment=first)
    consumer.step()
    await recorder.aclose()
    [completed] = [e for e in writer.events if isinstance(e, Completed)]
    assert completed.request_id == "cut"
    assert consumer.stats.interrupted == 1
    journal.close()
    journal.unlock()


def test_one_gateway_per_journal_directory(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    first.open()
    with pytest.raises(ConfigError, match="in use by another gateway"):
        Journal(tmp_path).open(lock_timeout_secs=0.2)
    first.close()
    first.unlock()
    second = Journal(tmp_path)
    second.open(lock_timeout_secs=0.2)
    second.close()
    second.unlock()


async def test_a_store_that_cannot_open_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = config_from_mapping(
        {
            "session_recording": {
                "jsonl": {"enabled": False},
                "sqlite": {"path": str(blocker / "sessions.db")},
                "journal_directory": str(tmp_path / "journal"),
            }
        }
    ).session_recording
    with pytest.raises(ConfigError, match="recorder could not open its stores"):
        await open_recording(config)
    # The journal lock was released: a corrected config starts.
    fixed = config_from_mapping(
        {
            "session_recording": {
                "jsonl": {"enabled": False},
                "sqlite": {"path": str(tmp_path / "sessions.db")},
                "journal_directory": str(tmp_path / "journal"),
            }
        }
    ).session_recording
    stack = await open_recording(fixed)
    await stack.aclose()


async def test_a_killed_recorder_process_is_restarted_and_loses_nothing(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        session_recording={
            "jsonl": {"enabled": False},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        }
    )
    upstream.default = Reply(answer=Answer(text="ok"))
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    ids = [f"req-{i}" for i in range(40)]
    async with aiohttp.ClientSession() as session:
        for n, request_id in enumerate(ids):
            if n == 20:
                pid = capture.worker.pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
            body = {"model": "gpt-x", "messages": [{"role": "user", "content": request_id}]}
            async with session.post(
                f"{gateway.url}/v1/chat/completions", json=body, headers={"x-request-id": request_id}
            ) as response:
                assert response.status == 200
                await response.read()
    await asyncio.wait_for(capture.drain(), 30)
    assert capture.worker.restarts == 1
    stats = capture.recorder_stats
    assert stats.events_lost == 0
    assert set(stats.disk_free_bytes) == {"journal", "sqlite"}
    assert min(stats.disk_free_bytes.values()) > 0
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        stored = [row[0] for row in conn.execute("SELECT request_id FROM session_stats")]
    assert sorted(stored) == sorted(ids)


def test_usage_tally_sums_per_provider_model_and_priced_model() -> None:
    tally = UsageTally()
    assert not tally
    tally.add(UsageReport(provider="p", model="m", input=3, output=1, cost_model="m", cost_usd=0.5))
    tally.add(UsageReport(provider="p", model="m", input=4, output=2, reasoning=1, cost_model="m", cost_usd=0.25))
    tally.add(UsageReport(provider="p", model="other", input=1))
    rows = {(r.provider, r.model): r for r in tally.take()}
    assert rows["p", "m"] == UsageReport(
        provider="p", model="m", input=7, output=3, reasoning=1, cost_model="m", cost_usd=0.75
    )
    assert rows["p", "other"].cost_usd is None
    assert tally.take() == []
