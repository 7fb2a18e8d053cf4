"""Throughput of the recorder into the SQLite and JSONL writers, and PostgreSQL's (run by hand; not a test).

    PYTHONPATH=.:src python tests/recording/bench_recorder.py [--events 50000] [--pg URL]

Prints events/s from the first `record()` to the end of `aclose()` (everything written and flushed). With `--pg`
(a server URL) also into PostgreSQL, in a database of its own, with the dashboard's rollup triggers and with
them dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.postgres import PostgresWriter
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.sqlite import SqliteWriter

_ROLLUP_TRIGGERS = (
    ("trg_rollup_stats", "session_stats"),
    ("trg_rollup_stats_update", "session_stats"),
    ("trg_rollup_agent_update", "sessions"),
    ("trg_rollup_agent_delete", "sessions"),
    ("trg_rollup_started", "sessions"),
    ("trg_rollup_started_update", "sessions"),
    ("trg_rollup_ttft", "stream_metrics"),
    ("trg_rollup_ttft_update", "stream_metrics"),
)


async def run(kind: str, n_events: int, root: Path, pg: str | None = None) -> float:
    from tests.recording._builders import request_events

    writer: JsonlWriter | SqliteWriter | PostgresWriter
    if kind == "sqlite":
        writer = await SqliteWriter.open(root / "sessions.db")
    elif kind.startswith("postgres"):
        assert pg is not None
        writer = await PostgresWriter.open(pg)
        if kind == "postgres-no-rollups":
            for trigger, table in _ROLLUP_TRIGGERS:
                await writer.fetch(f"DROP TRIGGER {trigger} ON {table}")
    else:
        writer = JsonlWriter(root / "sessions")
    recorder = Recorder([writer], spool_dir=root / f"spool-{kind}", max_queue_events=1_000_000)
    await recorder.start()
    per_request = len(request_events("s", "r", tools=3))
    requests = [request_events(f"s{i % 500}", f"r{i}", tools=3) for i in range(n_events // per_request)]
    total = sum(map(len, requests))
    start = time.perf_counter()
    for i, evs in enumerate(requests):
        for ev in evs:
            recorder.record(ev)
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the consumer run, as a live server would
    await recorder.aclose()
    elapsed = time.perf_counter() - start
    assert recorder.events_written[writer.name] == total
    assert recorder.events_lost == 0
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--pg", help="a PostgreSQL server URL: also bench the PostgreSQL writer there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "jsonl"):
            rate = await run(kind, args.events, Path(tmp))
            print(f"{kind:>6}: {rate:>10,.0f} events/s ({args.events:,} events, batches of 100)")
    if args.pg:
        for kind in ("postgres", "postgres-no-rollups"):
            name = f"lunaroute_bench_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(args.pg)
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                from tests._needs import pg_url

                rate = await run(kind, args.events, Path(), pg_url(args.pg, database=name))
                print(f"{kind:>6}: {rate:>10,.0f} events/s ({args.events:,} events, batches of 100)")
            finally:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
