"""The Recorder: order, batching, spooling on failure or a full queue, exactly-once replay, shutdown."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.recording._builders import FlakyWriter, request_events
from tests.recording.test_sqlite import dump

from lunaroute.recording.events import RequestRecorded, SessionEvent
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.jsonl_reader import read_session_file
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.sqlite import SqliteWriter


def by_request(events: list[SessionEvent]) -> dict[tuple[str, str], list[SessionEvent]]:
    out: dict[tuple[str, str], list[SessionEvent]] = {}
    for ev in events:
        out.setdefault((ev.session_id, ev.request_id), []).append(ev)
    return out


async def test_concurrent_requests_keep_their_order(tmp_path: Path) -> None:
    writer = FlakyWriter("mem")
    recorder = Recorder([writer], spool_dir=tmp_path / "spool", batch_size=64, batch_timeout_ms=5)
    await recorder.start()
    expected = {(f"s{i % 10}", f"r{i}"): request_events(f"s{i % 10}", f"r{i}", tools=5) for i in range(100)}

    async def one_request(events: list[SessionEvent]) -> None:
        for ev in events:
            recorder.record(ev)
            await asyncio.sleep(random.random() / 1000)

    await asyncio.gather(*(one_request(evs) for evs in expected.values()))
    await recorder.aclose()
    assert len(writer.events) == sum(map(len, expected.values())) >= 1000
    assert by_request(writer.events) == expected
    assert recorder.events_written == {"mem": len(writer.events)}
    assert recorder.events_lost == 0
    assert recorder.events_spooled == 0
    assert writer.closed


class TimedWriter(FlakyWriter):
    """Notes (monotonic time, size) of each batch it is given, in `batches`."""

    def __init__(self) -> None:
        super().__init__("timed")
        self.batches: asyncio.Queue[tuple[float, int]] = asyncio.Queue()

    async def write_batch(self, events: Sequence[SessionEvent]) -> None:
        await super().write_batch(events)
        self.batches.put_nowait((time.monotonic(), len(events)))


async def test_batches_by_size_and_by_time(tmp_path: Path) -> None:
    # By size: a full batch goes without waiting for a time-out it could never reach in this test.
    writer = TimedWriter()
    recorder = Recorder([writer], spool_dir=tmp_path / "a", batch_size=10, batch_timeout_ms=600_000)
    await recorder.start()
    for ev in request_events("s", "r", tools=13):  # 19 events
        recorder.record(ev)
    _, size = await asyncio.wait_for(writer.batches.get(), 30)
    assert size == 10
    assert writer.batches.empty()  # the other 9 wait for more events (or the time-out)
    await recorder.flush()
    _, size = writer.batches.get_nowait()
    assert size == 9
    assert writer.calls == 2
    await recorder.aclose()
    # By time: a partial batch goes once it has waited `batch_timeout_ms`, never sooner, in one piece.
    writer = TimedWriter()
    recorder = Recorder([writer], spool_dir=tmp_path / "b", batch_size=1000, batch_timeout_ms=200)
    await recorder.start()
    recorded_at = time.monotonic()
    for ev in request_events("s", "r", tools=3):  # 9 events
        recorder.record(ev)
    written_at, size = await asyncio.wait_for(writer.batches.get(), 30)
    assert size == 9
    assert written_at - recorded_at >= 0.2
    assert writer.calls == 1
    await recorder.aclose()


async def test_failing_writer_spools_then_replays_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sqlite = await SqliteWriter.open(db)
    flaky = FlakyWriter("flaky")
    recorder = Recorder(
        [sqlite, flaky], spool_dir=tmp_path / "spool", batch_size=7, batch_timeout_ms=1, retry_initial_s=0.05
    )
    await recorder.start()
    batches = [request_events(f"s{i}", f"r{j}", tools=2) for i in range(4) for j in range(3)]
    flaky.failing = True
    for b in batches[:6]:
        for ev in b:
            recorder.record(ev)
    await recorder.flush()
    assert flaky.events == []
    assert recorder.events_failed["flaky"] > 0
    assert recorder.events_spooled == sum(map(len, batches[:6]))
    assert (tmp_path / "spool" / "flaky.spool.jsonl").exists()
    flaky.failing = False
    for b in batches[6:]:
        for ev in b:
            recorder.record(ev)
    for _ in range(100):
        await asyncio.sleep(0.02)
        if len(flaky.events) == sum(map(len, batches)):
            break
    await recorder.aclose()
    everything = [ev for b in batches for ev in b]
    assert flaky.events == everything  # global order kept across the spool, nothing twice
    # what queued behind the spool while the writer was degraded was spooled and replayed too, once
    assert recorder.events_replayed["flaky"] == recorder.events_spooled >= sum(map(len, batches[:6]))
    assert recorder.events_written == {"sqlite": len(everything), "flaky": len(everything)}
    assert not (tmp_path / "spool" / "flaky.spool.jsonl").exists()
    reference = tmp_path / "ref.db"
    ref = await SqliteWriter.open(reference)
    for b in batches:
        await ref.write_batch(b)
    await ref.close()
    assert dump(db) == dump(reference)


async def test_sqlite_outage_replayed_without_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sqlite = await SqliteWriter.open(db)
    recorder = Recorder([sqlite], spool_dir=tmp_path / "spool", batch_size=5, batch_timeout_ms=1, retry_initial_s=0.01)
    await recorder.start()
    real = sqlite.write_batch
    calls = 0

    async def fail_after_commit(events: object) -> None:
        nonlocal calls
        calls += 1
        await real(events)  # type: ignore[arg-type]
        if calls <= 3:
            raise TimeoutError("commit acknowledged too late")  # written, but reported failed: replay repeats it

    sqlite.write_batch = fail_after_commit  # type: ignore[method-assign]
    events = request_events("s", "r1", tools=4) + request_events("s", "r2", tools=4)
    for ev in events:
        recorder.record(ev)
    for _ in range(200):
        await asyncio.sleep(0.02)
        if calls > 3 and not (tmp_path / "spool" / "sqlite.spool.jsonl").exists():
            break
    await recorder.aclose()
    assert recorder.events_replayed["sqlite"] > 0
    assert recorder.events_lost == 0
    reference = tmp_path / "ref.db"
    ref = await SqliteWriter.open(reference)
    await ref.write_batch(events)
    await ref.close()
    assert dump(db) == dump(reference)


async def test_full_queue_spills_to_the_spool_in_order(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = FlakyWriter("mem")
    recorder = Recorder([writer], spool_dir=tmp_path, batch_size=10, batch_timeout_ms=1, max_queue_events=20)
    await recorder.start()
    events = [ev for i in range(30) for ev in request_events("s", f"r{i}")]  # 210 events, recorded in one go
    for ev in events:
        recorder.record(ev)
    assert recorder.queue_depth == 20
    assert recorder.events_spooled == len(events) - 20
    assert list(tmp_path.glob("overflow-*.jsonl"))
    await recorder.aclose()
    assert writer.events == events
    assert recorder.events_lost == 0
    assert list(tmp_path.glob("overflow-*")) == []


async def test_shutdown_flushes_everything(tmp_path: Path) -> None:
    jsonl = JsonlWriter(tmp_path / "sessions")
    sqlite = await SqliteWriter.open(tmp_path / "s.db")
    recorder = Recorder([jsonl, sqlite], spool_dir=tmp_path / "spool", batch_timeout_ms=10_000)
    await recorder.start()
    events = request_events("sess", "r1")
    for ev in events:
        recorder.record(ev)
    await recorder.aclose()  # well before the 10 s batch timeout
    assert read_session_file(tmp_path / "sessions" / "2026-03-01" / "sess.jsonl").events == events
    check = await SqliteWriter.open(tmp_path / "s.db")
    assert await check.query("SELECT completed_at IS NOT NULL FROM sessions") == [(1,)]
    await check.close()


async def test_spool_left_at_shutdown_is_replayed_by_the_next_start(tmp_path: Path) -> None:
    down = FlakyWriter("store")
    down.failing = True
    first = Recorder([down], spool_dir=tmp_path, batch_timeout_ms=1, retry_initial_s=0.01)
    await first.start()
    events = request_events("s", "r")
    for ev in events:
        first.record(ev)
    await first.aclose()
    assert down.events == []
    assert (tmp_path / "store.spool.jsonl").exists()
    late = RequestRecorded(session_id="s", request_id="late")
    first.record(late)  # after shutdown: kept for the next start, not dropped
    up = FlakyWriter("store")
    second = Recorder([up], spool_dir=tmp_path, batch_timeout_ms=1)
    await second.start()
    await second.flush()
    await second.aclose()
    assert up.events[: len(events)] == events
    assert up.events[len(events) :] == [late]
    assert list(tmp_path.iterdir()) == []


async def test_invalid_session_ids_are_rejected_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = FlakyWriter("mem")
    recorder = Recorder([writer], spool_dir=tmp_path)
    await recorder.start()
    with caplog.at_level(logging.ERROR, logger="lunaroute.recording"):
        recorder.record(RequestRecorded(session_id="../x", request_id="r"))
    await recorder.aclose()
    assert recorder.events_rejected == 1
    assert writer.events == []
    assert "invalid session id" in caplog.text


async def test_unwritable_spool_counts_every_lost_event_and_logs_the_episode_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    down = FlakyWriter("store")
    recorder = Recorder([down], spool_dir=tmp_path / "spool", batch_timeout_ms=1)
    await recorder.start()
    recorder._lanes[0].spool.path = blocker / "store.spool.jsonl"  # appending there fails (ENOTDIR)
    down.failing = True
    events = request_events("s", "r")
    with caplog.at_level(logging.ERROR, logger="lunaroute.recording"):
        for ev in events:
            recorder.record(ev)
        await recorder.flush()
        for ev in request_events("s", "r2"):
            recorder.record(ev)
        await recorder.flush()
    assert recorder.events_lost == 2 * len(events)
    assert caplog.text.count("session events are being lost") == 1
    down.failing = False
    with caplog.at_level(logging.WARNING, logger="lunaroute.recording"):
        for ev in request_events("s", "r3"):
            recorder.record(ev)
        await recorder.flush()
    assert f"writing again; {2 * len(events)} session events were lost" in caplog.text
    await recorder.aclose()


async def test_cancellation_is_not_swallowed(tmp_path: Path) -> None:
    started = asyncio.Event()

    class Slow(FlakyWriter):
        async def write_batch(self, events: object) -> None:
            started.set()
            await asyncio.sleep(3600)

    recorder = Recorder([Slow("slow")], spool_dir=tmp_path, batch_timeout_ms=1)
    await recorder.start()
    recorder.record(RequestRecorded(session_id="s", request_id="r"))
    closing = asyncio.create_task(recorder.aclose())
    await started.wait()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert recorder._task is not None
    assert recorder._task.cancelled()
