"""The UI over PostgreSQL at size: fill a database with 500,000 requests, then time every page and dashboard call.

    python bench/pg_dashboard.py [--dsn postgresql://postgres@127.0.0.1:5432/test] [--requests 500000] [--repeat 5]
    python bench/pg_dashboard.py --dsn postgresql://…/existing --no-seed

Without `--no-seed` a database of its own is created on the server of `--dsn` (dropped at the end unless `--keep`),
filled in a few statements with `generate_series`, then migrated by the real `PostgresWriter`, whose rollup
migration fills the rollups from the rows as on an existing database (`--through-triggers` sends every row
through the rollup triggers instead). The rows have the shape of `tests/recording/query/seed_large.py`'s for
SQLite: sessions of 5 requests 30 s apart over the last 30 days, one stream row per request, a tool call on every other request. Then the real UI
application (`build_ui_app` with `ui.database` set to the database) is timed by `tests/ui/bench_pages.py`'s cases:
each median should stay under 300 ms. On this shared 2-core machine the figures are indicative only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._needs import pg_url
from tests.ui.bench_pages import time_ui

from lunaroute.config import config_from_mapping
from lunaroute.recording._pg_rollup import COMPACT_SQL
from lunaroute.recording._pg_schema import MIGRATIONS
from lunaroute.recording.postgres import PostgresWriter
from lunaroute.recording.query._pg_window import ROLLUP_MIGRATION

MODELS = "ARRAY['claude-sonnet-4-5', 'claude-opus-4-1', 'gpt-5', 'gpt-4o']"
PROVIDERS = "ARRAY['anthropic', 'anthropic', 'openai', 'openai']"
AGENTS = "ARRAY['claude-cli/2.0.14', 'claude-cli/2.0.20', 'codex_cli_rs/0.46.0', 'opencode/0.15', 'python-httpx/0.28']"
TOOLS = "ARRAY['Read', 'Edit', 'Bash', 'Grep', 'Write', 'Glob', 'WebFetch']"
WORDS = "ARRAY['the', 'quick', 'brown', 'fox', 'refactors', 'a', 'parser', 'while', 'tests', 'run', 'in', 'background']"


def fill_sql(n_requests: int, per_session: int = 5) -> list[str]:
    """The statements that fill the tables (deterministic: `setseed`)."""
    sessions = (n_requests + per_session - 1) // per_session
    pick = "({arr})[1 + floor(random() * array_length({arr}, 1))::int]"
    text = f"(SELECT string_agg({pick.format(arr=WORDS)}, ' ') FROM generate_series(1, {{n}} + 0 * i))"
    return [
        "SELECT setseed(0.42)",
        "CREATE TEMP TABLE plan AS SELECT i, 'sess-' || lpad(i::text, 8, '0') AS sid, "
        "date_trunc('second', now()) - random() * interval '30 days' AS start, floor(random() * 4)::int + 1 AS m, "
        f"floor(random() * 5)::int + 1 AS a, random() > 0.05 AS ok FROM generate_series(0, {sessions - 1}) i",
        "INSERT INTO sessions (session_id, request_id, started_at, completed_at, provider, listener, model_requested, "
        "model_used, success, error_message, finish_reason, total_duration_ms, provider_latency_ms, input_tokens, "
        "output_tokens, request_text, response_text, user_agent, is_streaming) "
        f"SELECT sid, sid || '-r0', start, start + interval '30 seconds' * {per_session}, ({PROVIDERS})[m], "
        f"({PROVIDERS})[m], ({MODELS})[m], ({MODELS})[m], ok, CASE WHEN ok THEN NULL ELSE 'upstream error' END, "
        f"CASE WHEN ok THEN 'end_turn' END, 30000 * {per_session}, 900, 20000, 4000, {text.format(n=30)}, "
        f"{text.format(n=40)}, ({AGENTS})[a], true FROM plan",
        "INSERT INTO session_stats (session_id, request_id, model_name, input_tokens, output_tokens, thinking_tokens, "
        "reasoning_tokens, cache_read_tokens, cache_creation_tokens, audio_input_tokens, audio_output_tokens, "
        "response_size_bytes, content_blocks, has_tools, user_agent, provider, success, status_code, duration_ms, "
        f"created_at) SELECT sid, sid || '-r' || r, ({MODELS})[m], 100 + floor(random() * 19900)::int, "
        "10 + floor(random() * 3990)::int, floor(random() * 500)::int, 0, floor(random() * 50000)::int, 0, 0, 0, "
        f"1200, 2, r % 2 = 0, ({AGENTS})[a], ({PROVIDERS})[m], ok OR r < {per_session - 1}, "
        f"CASE WHEN ok OR r < {per_session - 1} THEN 200 ELSE 529 END, 200 + floor(random() * 5000)::int, "
        f"start + interval '30 seconds' * r FROM plan, generate_series(0, {per_session - 1}) r "
        f"WHERE i * {per_session} + r < {n_requests}",
        "INSERT INTO stream_metrics (session_id, request_id, time_to_first_token_ms, total_chunks, "
        "streaming_duration_ms, created_at) SELECT session_id, request_id, 200 + floor(random() * 2800)::int, "
        "5 + floor(random() * 395)::int, 500 + floor(random() * 29500)::int, created_at FROM session_stats",
        "INSERT INTO tool_stats (session_id, request_id, model_name, tool_name, call_count, error_count, created_at) "
        f"SELECT session_id, request_id, model_name, {pick.format(arr=TOOLS)}, 1, "
        "CASE WHEN random() > 0.1 THEN 0 ELSE 1 END, created_at FROM session_stats WHERE has_tools",
        "DROP TABLE plan",
    ]


async def seed(dsn: str, n_requests: int, *, through_triggers: bool) -> None:
    """Fill the tables. By default the rows go in before the rollup migration, which then fills the rollups from
    them (as on a database recorded before it); `through_triggers` applies every migration first, so each row
    goes through the rollup triggers as a replica's writes do (several times slower)."""
    conn = await asyncpg.connect(dsn)
    try:
        if through_triggers:
            await (await PostgresWriter.open(dsn)).close()
        else:
            await conn.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            for version, description, sql in MIGRATIONS:
                if version < ROLLUP_MIGRATION:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, description)
        for sql in fill_sql(n_requests):
            t0 = time.perf_counter()
            await conn.execute(sql)
            print(f"  {time.perf_counter() - t0:6.1f} s  {sql[:70]}…")
        if not through_triggers:
            t0 = time.perf_counter()
            writer = await PostgresWriter.open(dsn)  # the remaining migrations, as a replica applies them
            print(
                f"  {time.perf_counter() - t0:6.1f} s  migrations {writer.migrations_applied} (the rollups' backfill)"
            )
            await writer.close()
        await conn.execute(COMPACT_SQL)  # as the replicas' writers do every few seconds
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would after a bulk load: statistics, visibility map
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-seed", action="store_true", help="time the database of --dsn as it is")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database (its URL is printed)")
    parser.add_argument("--through-triggers", action="store_true", help="insert every row through the rollup triggers")
    args = parser.parse_args()
    dsn, created = args.dsn, None
    if not args.no_seed:
        created = f"lunaroute_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(args.dsn)
        await admin.execute(f'CREATE DATABASE "{created}"')
        await admin.close()
        dsn = pg_url(args.dsn, database=created)
    try:
        if created is not None:
            t0 = time.perf_counter()
            await seed(dsn, args.requests, through_triggers=args.through_triggers)
            print(f"seeded {args.requests} requests in {time.perf_counter() - t0:.1f} s -> {dsn}")
        config = config_from_mapping({"session_recording": {"enabled": False}, "ui": {"database": dsn}}, env={})
        await time_ui(config, args.repeat)
    finally:
        if created is not None and not args.keep:
            admin = await asyncpg.connect(args.dsn)
            await admin.execute(f'DROP DATABASE "{created}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
