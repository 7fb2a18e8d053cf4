"""The recorder process: segments recycled only when everything begun in them has ended and is flushed, one gateway
per journal, a store that cannot open stops the start, and a recorder process that dies is restarted without losing
an exchange."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.recording._journal import Journal
from lunaroute.recording._journal_reader import JournalReader
from lunaroute.recording._segments import segments
from lunaroute.recording._setup import RecordingStack, open_recording
from lunaroute.recording.events import Completed, ResponseRecorded, SessionEvent, Started
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.worker._consume import JournalConsumer, UsageTally
from lunaroute.recording.worker._protocol import UsageReport
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply

from ._builders import FOREGROUND_RECORDER, record, recorded_events


def sqlite_recording(tmp_path: Path, **extra: object) -> dict[str, object]:
    """`session_recording` with SQLite only (in `tmp_path`) and the journal in `tmp_path / "journal"`."""
    return {
        "jsonl": {"enabled": False},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
        "worker": FOREGROUND_RECORDER,
        **extra,
    }


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
    fixed = config_from_mapping({"session_recording": sqlite_recording(tmp_path)}).session_recording
    stack = await open_recording(fixed)
    await stack.aclose()


async def test_a_killed_recorder_process_is_restarted_and_loses_nothing(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(session_recording=sqlite_recording(tmp_path))
    upstream.default = Reply(answer=Answer(text="ok"))
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    ids = []
    async with aiohttp.ClientSession() as session:
        for n, request_id in enumerate(f"req-{i}" for i in range(40)):
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
                ids.append(response.headers["x-lunaroute-request-id"])
    await asyncio.wait_for(capture.drain(), 30)
    assert capture.worker.restarts == 1
    stats = capture.recorder_stats
    assert stats.events_lost == 0
    assert set(stats.disk_free_bytes) == {"journal", "sqlite"}
    assert min(stats.disk_free_bytes.values()) > 0
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        stored = [row[0] for row in conn.execute("SELECT request_id FROM session_stats")]
    assert sorted(stored) == sorted(ids)


async def test_a_running_exchange_has_its_start_journaled_within_50_ms(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    """A long exchange is in the journal while it runs: were the gateway killed now, it would be recorded as
    interrupted."""
    gateway = await make_gateway(session_recording=sqlite_recording(tmp_path))
    upstream.default = Reply(answer=Answer(text="slow"), delay_before_headers=1.0)
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        call = asyncio.create_task(
            session.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"x-request-id": "long-one"})
        )
        found: list[tuple[str, str]] = []
        for _ in range(40):
            await asyncio.sleep(0.02)
            found = [(e.kind, e.record.client_request_id) for _, e in JournalReader(tmp_path / "journal").read()]
            if found:
                break
        assert found == [("start", "long-one")]
        assert not call.done()
        async with await call as response:
            assert response.status == 200


@pytest.mark.parametrize("slow", [False, True])
async def test_a_fallback_is_recorded_as_begun_on_the_first_provider(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path, slow: bool
) -> None:
    """The start is written as the exchange began (first provider), whether it is written with the end (a fast
    exchange) or on its own first (a slow one); the end names the provider that answered."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    providers = {
        "main": {"provider_type": "openai", "base_url": f"http://127.0.0.1:{closed}/v1"},
        "spare": {"provider_type": "openai", "base_url": upstream.openai_base_url},
    }
    gateway = await make_gateway(
        providers=providers,
        routing={"rules": [{"name": "all", "primary": "main", "fallbacks": ["spare"]}]},
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"enabled": False},
            "journal_directory": str(tmp_path / "journal"),
        },
    )
    upstream.default = Reply(answer=Answer(text="from the spare"), delay_before_headers=0.2 if slow else 0.0)
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    events = await recorded_events(gateway, tmp_path / "sessions", "fb-session", body)
    [started] = [e for e in events if isinstance(e, Started)]
    [response_event] = [e for e in events if isinstance(e, ResponseRecorded)]
    assert started.provider == "main"
    assert response_event.response_text == "from the spare"
    assert [e.success for e in events if isinstance(e, Completed)] == [True]


@pytest.mark.parametrize("sched_idle", [True, False])
async def test_the_recorder_process_runs_below_the_gateway(
    make_gateway: GatewayFactory, tmp_path: Path, sched_idle: bool
) -> None:
    gateway = await make_gateway(
        session_recording=sqlite_recording(tmp_path, worker={"nice": 7, "sched_idle": sched_idle})
    )
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    pid = capture.worker.pid
    assert pid is not None
    assert os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0) == 7
    assert os.sched_getscheduler(pid) == (os.SCHED_IDLE if sched_idle else os.SCHED_OTHER)


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


def _stored_request_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(row[0] for row in conn.execute("SELECT request_id FROM sessions"))


async def _journal_exchanges(tmp_path: Path, ids: list[str]) -> RecordingStack:
    config = config_from_mapping({"session_recording": sqlite_recording(tmp_path)}).session_recording
    stack = await open_recording(config)
    for request_id in ids:
        exchange = record(request_id, ended=True)
        stack.capture.begin(exchange)
        stack.capture.end(exchange)
    return stack


async def test_a_recorder_that_gets_no_cpu_is_killed_at_the_bound_and_the_next_start_records_it_all(
    tmp_path: Path,
) -> None:
    """A stopped process (SIGSTOP) stands for a recorder starved of CPU: shutdown waits for it only as long as
    its bound, and what it did not record is recorded by the next start, once."""
    ids = [f"starved-{i}" for i in range(30)]
    stack = await _journal_exchanges(tmp_path, ids)
    worker = stack.capture.worker
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(stack.capture.aclose(drain_secs=0.2, grace_secs=0.3), 20)
    assert loop.time() - began < 10
    assert worker._process is not None
    assert worker._process.returncode == -signal.SIGKILL
    # The next start records what the killed recorder left in the journal.
    again = await _journal_exchanges(tmp_path, [])
    await asyncio.wait_for(again.capture.drain(), 30)
    await again.aclose()
    assert _stored_request_ids(tmp_path / "sessions.db") == sorted(ids)


async def test_a_bounded_stop_leaves_what_it_did_not_record_to_the_next_start(tmp_path: Path) -> None:
    ids = [f"bounded-{i}" for i in range(30)]
    stack = await _journal_exchanges(tmp_path, ids)
    worker = stack.capture.worker
    assert worker.pid is not None
    # Paused while the exchanges are journaled, resumed with the stop (and its zero-second drain) already sent.
    os.kill(worker.pid, signal.SIGSTOP)
    closing = asyncio.ensure_future(stack.capture.aclose(drain_secs=0.0, grace_secs=20.0))
    await asyncio.sleep(0.3)
    os.kill(worker.pid, signal.SIGCONT)
    await asyncio.wait_for(closing, 20)
    assert worker._process is not None
    assert worker._process.returncode == 0  # it exited by itself, in time
    again = await _journal_exchanges(tmp_path, [])
    await asyncio.wait_for(again.capture.drain(), 30)
    await again.aclose()
    assert _stored_request_ids(tmp_path / "sessions.db") == sorted(ids)
