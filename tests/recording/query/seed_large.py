"""Create a large session database for benchmarks, and time the main read queries on it.

    python tests/recording/query/seed_large.py /tmp/big.db [--requests 500000] [--per-session 5] [--measure]

The schema comes from `SqliteWriter` (so it is exactly the one the gateway writes); the rows are inserted
directly with `executemany` in one transaction, spread over the last 30 days: one `sessions` row per session,
one `session_stats` and one `stream_metrics` row per request, one tool call on every other request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from lunaroute.recording.query import SessionFilter, SqliteSessionStore, TokenCounts
from lunaroute.recording.sqlite import SqliteWriter

MODELS = [
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("openai", "gpt-5"),
    ("openai", "gpt-4o"),
]
AGENTS = ["claude-cli/2.0.14", "claude-cli/2.0.20", "codex_cli_rs/0.46.0", "opencode/0.15", "python-httpx/0.28"]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "refactors",
    "a",
    "parser",
    "while",
    "tests",
    "run",
    "in",
    "the",
    "background",
    "and",
    "reviews",
    "diffs",
]
Row = tuple[object, ...]
TOOLS = ["Read", "Edit", "Bash", "Grep", "Write", "Glob", "WebFetch"]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _rows(
    n_requests: int, per_session: int, seed: int
) -> Iterator[tuple[tuple[object, ...], list[Row], list[Row], list[Row]]]:
    """Yield (session row, request rows, tool rows, stream rows) per session."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    n_sessions = (n_requests + per_session - 1) // per_session
    done = 0
    for i in range(n_sessions):
        sid = f"sess-{i:08d}"
        start = now - dt.timedelta(seconds=rng.randrange(30 * 86400))
        provider, model = rng.choice(MODELS)
        agent = rng.choice(AGENTS)
        count = min(per_session, n_requests - done)
        done += count
        success = rng.random() > 0.05
        reqs, tools, streams = [], [], []
        tin = tout = 0
        for r in range(count):
            rid = f"{sid}-r{r}"
            at = (start + dt.timedelta(seconds=30 * r)).strftime("%Y-%m-%d %H:%M:%S")
            i_tok, o_tok, cr = rng.randrange(100, 20000), rng.randrange(10, 4000), rng.randrange(0, 50000)
            tin, tout = max(tin, i_tok), max(tout, o_tok)
            reqs.append(
                (sid, rid, model, i_tok, o_tok, rng.randrange(0, 500), 0, cr, 0, 0, 0, 1200, 2, r % 2 == 0, agent, at)
            )
            streams.append((sid, rid, rng.randrange(200, 3000), rng.randrange(5, 400), rng.randrange(500, 30000), at))
            if r % 2 == 0:
                tools.append((sid, rid, model, rng.choice(TOOLS), 1, 0 if rng.random() > 0.1 else 1, at))
        end = start + dt.timedelta(seconds=30 * count)
        session = (
            sid,
            f"{sid}-r0",
            start.isoformat(),
            end.isoformat(),
            provider,
            provider,
            model,
            model,
            success,
            None if success else "upstream error",
            "end_turn" if success else None,
            30000 * count,
            900,
            tin,
            tout,
            _text(rng, 30),
            _text(rng, 40),
            agent,
            True,
        )
        yield session, reqs, tools, streams


def seed_large(db: Path, n_requests: int, per_session: int = 5, seed: int = 1) -> None:
    asyncio.run(_create_schema(db))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    sessions, reqs, tools, streams = [], [], [], []
    for s, r, t, m in _rows(n_requests, per_session, seed):
        sessions.append(s)
        reqs += r
        tools += t
        streams += m
    conn.executemany(
        "INSERT INTO sessions (session_id, request_id, started_at, completed_at, provider, listener, model_requested, "
        "model_used, success, error_message, finish_reason, total_duration_ms, provider_latency_ms, input_tokens, "
        "output_tokens, request_text, response_text, user_agent, is_streaming) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        sessions,
    )
    conn.executemany(
        "INSERT INTO session_stats (session_id, request_id, model_name, input_tokens, output_tokens, thinking_tokens, "
        "reasoning_tokens, cache_read_tokens, cache_creation_tokens, audio_input_tokens, audio_output_tokens, "
        "response_size_bytes, content_blocks, has_tools, user_agent, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        reqs,
    )
    conn.executemany(
        "INSERT INTO tool_stats (session_id, request_id, model_name, tool_name, call_count, error_count, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        tools,
    )
    conn.executemany(
        "INSERT INTO stream_metrics (session_id, request_id, time_to_first_token_ms, total_chunks, "
        "streaming_duration_ms, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        streams,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


async def _create_schema(db: Path) -> None:
    writer = await SqliteWriter.open(db)
    await writer.close()


def _price(provider: str, model: str, tokens: TokenCounts) -> float | None:
    return (tokens.input * 3.0 + tokens.output * 15.0 + tokens.cache_read * 0.3) / 1e6


async def measure(db: Path, repeat: int = 5) -> None:
    store = SqliteSessionStore(db, price=_price)
    cases: dict[str, Callable[[], Awaitable[object]]] = {
        "list first page (no filter)": lambda: store.list_sessions(SessionFilter(), limit=50),
        "list page 100 (offset 5000)": lambda: store.list_sessions(SessionFilter(), offset=5000, limit=50),
        "list filter model": lambda: store.list_sessions(SessionFilter(model="gpt-5"), limit=50),
        "list filter user agent prefix": lambda: store.list_sessions(SessionFilter(user_agent="codex*"), limit=50),
        "list filter since 24h + provider": lambda: store.list_sessions(
            SessionFilter(since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=24), provider="openai"), limit=50
        ),
        "list filter failed": lambda: store.list_sessions(SessionFilter(success=False), limit=50),
        "list filter min_tokens": lambda: store.list_sessions(SessionFilter(min_tokens=60000), limit=50),
        "list text search": lambda: store.list_sessions(SessionFilter(search="parser refactors"), limit=50),
        "overview 24h": lambda: store.overview(24),
        "overview 720h": lambda: store.overview(720),
        "tokens per day 30": lambda: store.tokens_per_day(30),
        "tools": lambda: store.tool_usage(),
        "models 24h": lambda: store.model_usage(24),
        "costs": lambda: store.cost_stats(),
        "spending 24h": lambda: store.spending(24),
        "hours of day 168h": lambda: store.hours_of_day(168),
        "user agents": lambda: store.user_agents(),
        "models list": lambda: store.models(),
        "session detail": lambda: store.get_session("sess-00000042"),
        "timeline": lambda: store.timeline("sess-00000042"),
    }
    try:
        for name, call in cases.items():
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await call()
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{name:36} median {statistics.median(times):8.1f} ms   min {min(times):8.1f} ms")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", type=Path)
    parser.add_argument("--requests", type=int, default=500_000)
    parser.add_argument("--per-session", type=int, default=5)
    parser.add_argument("--measure", action="store_true", help="time the main queries after seeding")
    parser.add_argument("--no-seed", action="store_true", help="only measure an existing database")
    args = parser.parse_args()
    if not args.no_seed:
        if args.db.exists():
            parser.error(f"{args.db} exists; remove it or pass --no-seed")
        t0 = time.perf_counter()
        seed_large(args.db, args.requests, args.per_session)
        print(f"seeded {args.requests} requests in {time.perf_counter() - t0:.1f} s -> {args.db}")
    if args.measure:
        asyncio.run(measure(args.db))


if __name__ == "__main__":
    main()
