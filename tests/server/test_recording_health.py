"""Recording health: what `/readyz`, the log and `session_recording.required` make of storage faults.

The unit tests feed a real `Capture` (a journal in a temporary directory, its recorder process not started) the
counters its recorder process would send; the disk-full tests run a recording gateway whose stores live on a small
tmpfs that they fill up and free again (root only: mounting needs it)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.recording._builders import record

from lunaroute.config import SessionRecordingConfig
from lunaroute.observability import NullMetrics
from lunaroute.recording._capture import Capture
from lunaroute.recording._journal import Journal
from lunaroute.recording.worker._process import WorkerProcess
from lunaroute.recording.worker._protocol import WorkerSpec, WorkerStats
from lunaroute.server._gateway import GATEWAY
from lunaroute.server._recording_health import LOSS_WINDOW_SECS, STALE_SECS, RecordingHealth
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Capture]:
    journal = Journal(tmp_path / "journal")
    first = journal.open()
    spec = WorkerSpec(
        recording=SessionRecordingConfig(journal_directory=str(journal.directory)), first_live_segment=first
    )
    capture = Capture(journal, WorkerProcess(spec, lock_fd=journal.lock_fd))
    yield capture
    journal.close()
    journal.unlock()


def health_for(capture: Capture, clock: Clock, *, required: bool = False) -> RecordingHealth:
    return RecordingHealth(capture, NullMetrics(), required=required, clock=clock)


def test_keeping_up_is_ok(capture: Capture) -> None:
    health = health_for(capture, Clock(), required=True)
    assert health.check().reasons == ()
    assert not health.refusing()
    assert health.snapshot()["status"] == "ok"


def test_losing_events_is_impossible_for_a_window_then_clears(capture: Capture) -> None:
    clock = Clock()
    health = health_for(capture, clock, required=True)
    health.check()
    capture.worker.stats = WorkerStats(events_lost=3, writers_degraded=["jsonl"])
    state = health.check()
    assert state.reasons == ("losing", "stores")
    assert state.impossible
    assert health.refusing()
    clock.now += LOSS_WINDOW_SECS + 0.1
    capture.worker.stats = WorkerStats(events_lost=3)
    assert health.check().reasons == ()
    assert not health.refusing()


def test_a_store_spooling_is_degraded_but_not_refused(capture: Capture) -> None:
    health = health_for(capture, Clock(), required=True)
    capture.worker.stats = WorkerStats(writers_degraded=["sqlite"])
    state = health.check()
    assert state.reasons == ("stores",)
    assert not state.impossible
    assert not health.refusing()


def test_a_silent_recorder_process_is_reported(capture: Capture) -> None:
    clock = Clock()
    health = health_for(capture, clock)
    health.check()
    clock.now += STALE_SECS
    assert health.check().reasons == ("recorder",)
    capture.worker.stats = WorkerStats()  # a report arrives
    assert health.check().reasons == ()


def test_a_journal_that_cannot_be_written_refuses_until_there_is_room(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system (it stands for a full disk)")
    directory = tmp_path / "journal"
    journal = Journal(directory, mapped=False)
    first = journal.open()
    journal.stage("start", record("before"))
    journal.flush()
    (directory / f"journal-{first + 1:08d}.lrj").symlink_to("/dev/full")  # the next segment: every write fails
    journal.rotate()
    spec = WorkerSpec(recording=SessionRecordingConfig(journal_directory=str(directory)), first_live_segment=first)
    capture = Capture(journal, WorkerProcess(spec, lock_fd=journal.lock_fd))
    health = health_for(capture, Clock(), required=True)
    try:
        capture.end(record("lost", ended=True))
        assert capture.journal_error is not None
        assert "No space left" in capture.journal_error
        assert capture.stats.journal_errors == 1
        assert health.check().reasons == ("journal",)
        assert health.refusing()
        capture.probe(min_free_bytes=1 << 62)  # more room than the disk has: still refusing
        assert health.refusing()
        capture.probe()  # the journal's directory has room: try again
        assert not health.refusing()
        capture.end(record("lost-again", ended=True))  # and the next write tells
        assert health.refusing()
    finally:
        journal.unlock()


def test_an_episode_is_logged_once_when_it_starts_and_once_when_it_ends(
    capture: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    health = health_for(capture, clock)
    with caplog.at_level(logging.INFO, logger="lunaroute.recording.health"):
        for lost in range(1, 50):
            capture.worker.stats = WorkerStats(events_lost=lost, writers_degraded=["jsonl"])
            health.check()
            clock.now += 0.1
        clock.now += LOSS_WINDOW_SECS
        capture.worker.stats = WorkerStats(events_lost=49)
        health.check()
        health.check()
    lines = [r for r in caplog.records if r.name == "lunaroute.recording.health"]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING]
    assert "degraded (losing, stores)" in lines[0].getMessage()
    assert "served unrecorded" in lines[0].getMessage()
    assert "49 session events lost" in lines[1].getMessage()


# -- a real small file system that fills up ---------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(where: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` mounted at `where` for the test (root only; skipped otherwise, with the reason)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill up needs root (id -u is not 0)")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"could not mount a tmpfs: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of `directory`'s file system with one file; return it (delete it to free the space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


async def readyz(gateway: GatewayServer) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as client, client.get(f"{gateway.url}/readyz") as response:
        return response.status, await response.json()


async def until(predicate: Any, gateway: GatewayServer, seconds: float = 20.0) -> tuple[int, dict[str, Any]]:
    """Poll `/readyz`, sending one chat request a round (so the stores have something to fail on), until
    `predicate(status, body)` holds."""
    deadline = time.monotonic() + seconds
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-test", max_retries=0) as client:
        while True:
            with contextlib.suppress(openai.APIStatusError):
                await client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
            status, body = await readyz(gateway)
            if predicate(status, body):
                return status, body
            assert time.monotonic() < deadline, f"/readyz never got there: {status} {body}"
            await asyncio.sleep(0.3)


async def scrape(gateway: GatewayServer) -> dict[str, float]:
    """Sample name (labels summed) -> value, from `/metrics`."""
    async with aiohttp.ClientSession() as client, client.get(f"{gateway.url}/metrics") as response:
        text = await response.text()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def recorded_request_ids(sessions: Path) -> set[str]:
    found = set()
    for path in sessions.rglob("*.jsonl"):
        for line in path.read_text(errors="replace").splitlines():
            if '"request_id"' in line:
                found.add(line.split('"request_id":"', 1)[1].split('"', 1)[0])
    return found


async def refused_without_an_upstream_call(gateway: GatewayServer, upstream: FakeUpstream) -> dict[str, Any]:
    """One 503 answer per dialect, each with `retry-after` and no upstream call. While the disk is full a refused
    request's own record may find a few bytes in the journal and let the next request through before the
    recorder reports its losses again, so each dialect is tried until it is refused."""
    requests = {
        "anthropic": (
            "/v1/messages",
            {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        ),
        "openai": ("/v1/chat/completions", {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}),
    }
    answers: dict[str, Any] = {}
    async with aiohttp.ClientSession() as client:
        for dialect, (path, body) in requests.items():
            for _ in range(50):
                before = len(upstream.requests)
                async with client.post(f"{gateway.url}{path}", json=body) as response:
                    if response.status == 503:
                        assert float(response.headers["retry-after"]) > 0
                        assert len(upstream.requests) == before
                        answers[dialect] = await response.json()
                        break
                await asyncio.sleep(0.2)
            else:
                pytest.fail(f"no {dialect} request was refused while the disk was full")
    return answers


@pytest.mark.parametrize("required", [False, True])
async def test_disk_full_degrades_readyz_and_recording_resumes_when_space_returns(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, required: bool
) -> None:
    with small_filesystem(tmp_path / "fs", 48) as fs:
        sessions = fs / "sessions"
        gateway = await make_gateway(
            session_recording={
                "enabled": True,
                "required": required,
                "jsonl": {"directory": str(sessions)},
                "sqlite": {"path": str(fs / "sessions.db")},
                "journal_directory": str(fs / "journal"),
            }
        )
        assert gateway.app is not None
        capture = gateway.app[GATEWAY].capture
        assert capture is not None
        status, body = await until(lambda s, b: b["recording"]["status"] == "ok", gateway)
        assert (status, body["status"]) == (200, "ready")

        filler = fill(fs)
        if required:
            status, body = await until(lambda s, b: s == 503, gateway)
            assert body["status"] == "not_ready"
            assert body["recording"]["refusing"] is True
            refusals = await refused_without_an_upstream_call(gateway, upstream)
            assert refusals["anthropic"]["type"] == "error"
            assert refusals["anthropic"]["error"]["type"] == "overloaded_error"
            assert refusals["openai"]["error"]["code"] == "overloaded"
            metrics = await scrape(gateway)
            assert metrics["lunaroute_requests_refused_unrecorded_total"] >= 2
        else:
            status, body = await until(lambda s, b: b["status"] == "degraded", gateway)
            assert status == 200
            metrics = await scrape(gateway)
            assert metrics["lunaroute_recording_degraded"] >= 1
        assert {"losing", "journal"} & set(body["recording"]["reasons"])
        assert metrics["lunaroute_recording_degraded_episodes_total"] >= 1

        filler.unlink()
        status, body = await until(lambda s, b: b["recording"]["status"] == "ok", gateway, seconds=30)
        assert (status, body["status"]) == (200, "ready")
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-test", max_retries=0) as client:
            answer = await client.chat.completions.with_raw_response.create(
                model="gpt-x", messages=[{"role": "user", "content": "after"}]
            )
        request_id = answer.headers["x-lunaroute-request-id"]
        await asyncio.wait_for(capture.drain(), 30)
        assert request_id in recorded_request_ids(sessions)
        await gateway.stop()
