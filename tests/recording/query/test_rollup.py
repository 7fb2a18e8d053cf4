"""The rollups: kept equal to a rebuild from the raw rows by the triggers, and the figures read through them
equal to the raw-row aggregates, on random data and after random updates and deletes."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.recording.query._seed import seed, standard_specs

from lunaroute.recording._sqlite_rollup import TABLES, rebuild_rollups, ttft_bucket, ttft_bucket_range
from lunaroute.recording._sqlite_schema import ensure_schema
from lunaroute.recording.query import TokenCounts
from lunaroute.recording.query import _sqlite_stats as stats
from lunaroute.recording.query._rollup import available
from lunaroute.recording.query._sql import created_bound

NOW = dt.datetime(2025, 6, 15, 12, 34, 56, 789000, tzinfo=dt.UTC)
WINDOWS = (1, 2, 24, 168, 720, 24 * 365)
MODELS = ("m1", "m2", "gpt-x")
AGENTS = (None, "", "a/1", "b/2", "c/3")
TOOLS = ("Read", "Edit", "Bash")


def price(provider: str, model: str, tokens: TokenCounts) -> float | None:
    if model.startswith("gpt"):
        return None
    return (tokens.input * 1.1 + tokens.output * 3.3 + tokens.cache_read * 0.07) / 1_000_000


def snapshot(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def assert_rollups_true(conn: sqlite3.Connection) -> None:
    """The rollup tables hold exactly what a rebuild from the source rows would."""
    kept = snapshot(conn)
    conn.execute("SAVEPOINT check_rollups")
    rebuild_rollups(conn)
    rebuilt = snapshot(conn)
    conn.execute("ROLLBACK TO check_rollups")
    conn.execute("RELEASE check_rollups")
    assert kept == rebuilt


def figures(conn: sqlite3.Connection, now: dt.datetime) -> list[object]:
    out: list[object] = []
    for hours in WINDOWS:
        out.append(stats.overview(conn, hours, now, price))
        out.append(stats.spending(conn, hours, now, price))
        out.append(stats.client_usage(conn, hours, 6, now, price))
        for agent in (None, "a/1", "b/2", "nobody"):
            out.append(stats.model_usage(conn, hours, agent, now, price))
    out += [
        stats.tokens_per_day(conn, 7, now),
        stats.tokens_per_day(conn, 400, now),
        stats.cost_stats(conn, now, price),
        stats.tool_usage(conn, 50),
        stats.tool_usage(conn, 2),
        stats.user_agents(conn),
    ]
    return out


def assert_same_as_raw(conn: sqlite3.Connection, now: dt.datetime) -> None:
    """Every figure read through the rollups equals the one read from the raw rows (a copy without rollups)."""
    raw = sqlite3.connect(":memory:", isolation_level=None)
    conn.backup(raw)
    raw.execute("DROP TABLE rollup_version")
    assert available(conn)
    assert not available(raw)
    assert figures(conn, now) == figures(raw, now)
    raw.close()


def _ts(rng: random.Random, now: dt.datetime, sep: str = " ") -> str:
    """A `CURRENT_TIMESTAMP`-style (or, with sep 'T', started_at-style) time, often on a window's edge."""
    pick = rng.random()
    if pick < 0.15:
        at = now - dt.timedelta(hours=rng.choice(WINDOWS))  # exactly on a window's first second
    elif pick < 0.25:
        at = (now - dt.timedelta(hours=rng.randrange(1, 800))).replace(minute=0, second=0)  # on an hour
    elif pick < 0.3:
        at = now + dt.timedelta(minutes=rng.randrange(1, 90))  # a little in the future
    else:
        at = now - dt.timedelta(seconds=rng.randrange(40 * 86400))
    if sep == "T":
        return at.replace(microsecond=rng.choice((0, 123456))).isoformat()
    return created_bound(at)


def _tokens(rng: random.Random) -> list[int | None]:
    return [None if rng.random() < 0.1 else rng.randrange(0, 5000) for _ in range(8)]


def _ttft(rng: random.Random) -> int:
    return rng.choice((rng.randrange(-5, 100), rng.randrange(100, 4000), rng.randrange(4000, 10**7)))


def populate(conn: sqlite3.Connection, rng: random.Random, now: dt.datetime) -> None:
    sids = [f"s{i}" for i in range(rng.randrange(5, 30))]
    for sid in sids:
        duration = None if rng.random() < 0.3 else rng.randrange(0, 10**6)
        conn.execute(
            "INSERT INTO sessions (session_id, started_at, completed_at, provider, listener, model_requested, "
            "model_used, success, total_duration_ms, user_agent) VALUES (?, ?, ?, 'p', 'l', 'm', ?, ?, ?, ?)",
            (
                sid,
                _ts(rng, now, "T"),
                None if rng.random() < 0.3 else _ts(rng, now, "T"),
                rng.choice(MODELS),
                rng.choice((None, True, False)),
                duration,
                rng.choice(AGENTS),
            ),
        )
    orphans = ["o1", "o2"]  # children without a sessions row (possible with foreign keys off)
    for n in range(rng.randrange(10, 120)):
        insert_request(conn, rng, now, rng.choice(sids + orphans), n)
    for n in range(rng.randrange(0, 60)):
        conn.execute(
            "INSERT INTO stream_metrics (session_id, request_id, time_to_first_token_ms, total_chunks, "
            "streaming_duration_ms, created_at) VALUES (?, ?, ?, 1, 1, ?)",
            (rng.choice(sids), f"r{n}", _ttft(rng), _ts(rng, now)),
        )
    for n in range(rng.randrange(0, 30)):
        conn.execute(
            "INSERT INTO tool_stats (session_id, request_id, tool_name, call_count, error_count, "
            "avg_execution_time_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (
                rng.choice(sids),
                f"t{n}",
                rng.choice(TOOLS),
                rng.choice((None, 1, 3)),
                rng.choice((None, 0, 1)),
                rng.choice((None, 10, 250)),
            ),
        )


def insert_request(conn: sqlite3.Connection, rng: random.Random, now: dt.datetime, sid: str, n: int) -> None:
    conn.execute(
        "INSERT INTO session_stats (session_id, request_id, model_name, input_tokens, output_tokens, "
        "thinking_tokens, reasoning_tokens, cache_read_tokens, cache_creation_tokens, audio_input_tokens, "
        "audio_output_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sid, f"{sid}-r{n}", rng.choice(MODELS), *_tokens(rng), _ts(rng, now)),
    )


def _any(conn: sqlite3.Connection, rng: random.Random, table: str, column: str = "rowid") -> object:
    rows = conn.execute(f"SELECT {column} FROM {table}").fetchall()
    return rng.choice(rows)[0] if rows else None


def mutate(conn: sqlite3.Connection, rng: random.Random, now: dt.datetime) -> None:
    """One random change, as a writer, a retention job, the UI's delete or a SQLite shell may make."""
    op = rng.randrange(14)
    sid = _any(conn, rng, "sessions", "session_id") or "o3"
    if op == 0:
        col = rng.choice(("input_tokens", "output_tokens", "cache_read_tokens", "audio_output_tokens"))
        conn.execute(
            f"UPDATE session_stats SET {col} = ? WHERE rowid = ?",
            (rng.choice((None, rng.randrange(9999))), _any(conn, rng, "session_stats")),
        )
    elif op == 1:
        conn.execute(
            "UPDATE session_stats SET model_name = ? WHERE rowid = ?",
            (rng.choice(MODELS), _any(conn, rng, "session_stats")),
        )
    elif op == 2:
        conn.execute(
            "UPDATE session_stats SET created_at = ? WHERE rowid = ?", (_ts(rng, now), _any(conn, rng, "session_stats"))
        )
    elif op == 3:
        conn.execute("UPDATE session_stats SET session_id = ? WHERE rowid = ?", (sid, _any(conn, rng, "session_stats")))
    elif op == 4:
        conn.execute("DELETE FROM session_stats WHERE rowid = ?", (_any(conn, rng, "session_stats"),))
    elif op == 5:
        conn.execute("UPDATE sessions SET user_agent = ? WHERE session_id = ?", (rng.choice(AGENTS), sid))
    elif op == 6:
        conn.execute(
            "UPDATE sessions SET started_at = ?, completed_at = ?, success = ?, total_duration_ms = ? "
            "WHERE session_id = ?",
            (_ts(rng, now, "T"), _ts(rng, now, "T"), rng.choice((None, True, False)), rng.randrange(10**5), sid),
        )
    elif op == 7:  # a whole session, its children by cascade (or left behind with foreign keys off)
        conn.execute(f"PRAGMA foreign_keys = {rng.choice(('ON', 'OFF'))}")
        conn.execute("DELETE FROM sessions WHERE session_id = ?", (sid,))
        conn.execute("PRAGMA foreign_keys = OFF")
    elif op == 8:  # the sessions row of children recorded without one
        conn.execute(
            "INSERT OR IGNORE INTO sessions (session_id, started_at, provider, listener, model_requested, user_agent) "
            "VALUES (?, ?, '', '', '', ?)",
            (rng.choice(("o1", "o2", "o3")), _ts(rng, now, "T"), rng.choice(AGENTS)),
        )
    elif op == 9:
        insert_request(conn, rng, now, rng.choice((str(sid), "o1", "o3")), rng.randrange(10**6))
    elif op == 10:
        conn.execute(
            "UPDATE stream_metrics SET time_to_first_token_ms = ?, created_at = ? WHERE rowid = ?",
            (_ttft(rng), _ts(rng, now), _any(conn, rng, "stream_metrics")),
        )
    elif op == 11:
        conn.execute("DELETE FROM stream_metrics WHERE rowid = ?", (_any(conn, rng, "stream_metrics"),))
    elif op == 12:
        conn.execute(
            "UPDATE tool_stats SET call_count = ?, error_count = error_count + 1 WHERE rowid = ?",
            (rng.choice((None, 2, 7)), _any(conn, rng, "tool_stats")),
        )
    else:
        conn.execute("DELETE FROM tool_stats WHERE rowid = ?", (_any(conn, rng, "tool_stats"),))


def fresh_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    ensure_schema(conn)
    conn.execute("PRAGMA foreign_keys = OFF")
    return conn


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(draw=st.integers(0, 2**64), hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_rollups_equal_raw_aggregates_through_updates_and_deletes(draw: int, hour: int, minute: int) -> None:
    rng = random.Random(draw)  # the data set and the changes drawn from one seed
    now = NOW.replace(hour=hour, minute=minute)
    conn = fresh_db()
    populate(conn, rng, now)
    assert_rollups_true(conn)
    assert_same_as_raw(conn, now)
    for _ in range(40):
        mutate(conn, rng, now)
    assert_rollups_true(conn)
    assert_same_as_raw(conn, now)


def test_backfill_of_an_existing_database(tmp_path: Path) -> None:
    """A v5 database filled before the rollups existed gets them, equal to the raw aggregates."""
    conn = fresh_db()
    conn.execute("DROP TABLE rollup_version")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    populate(conn, random.Random(7), NOW)
    assert not available(conn)
    ensure_schema(conn)
    assert available(conn)
    assert_rollups_true(conn)
    assert_same_as_raw(conn, NOW)


def test_rollups_after_the_real_writer(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    now = dt.datetime.now(dt.UTC)
    asyncio.run(seed(db, None, standard_specs(now)))
    conn = sqlite3.connect(db, isolation_level=None)
    assert conn.execute("SELECT COUNT(*) FROM rollup_requests").fetchone()[0] > 0
    assert_rollups_true(conn)
    assert_same_as_raw(conn, now)
    conn.close()


@pytest.mark.parametrize("value", [-3, 0, 7, 99, 100, 101, 999, 1000, 1234, 2861, 99999, 10**7 + 3, 250.5])
def test_ttft_buckets_hold_their_values(value: float) -> None:
    conn = sqlite3.connect(":memory:")
    sql = f"WITH v(x) AS (SELECT ?) SELECT {ttft_bucket('x')} FROM v"
    (bucket,) = conn.execute(sql, (value,)).fetchone()
    low, high = ttft_bucket_range(bucket)
    assert low is None or low <= value
    assert value < high
    (after,) = conn.execute(sql, (high,)).fetchone()
    assert after > bucket  # buckets follow the values' order


def test_huge_counts_never_fail_a_write() -> None:
    """Sums past 64 bits turn REAL in the rollups instead of failing the writer's statement."""
    conn = fresh_db()
    big = 2**63 - 1
    conn.execute(
        "INSERT INTO sessions (session_id, started_at, provider, listener, model_requested, total_duration_ms) "
        "VALUES ('s', '2025-06-15T10:00:00+00:00', '', '', '', ?)",
        (big,),
    )
    for n in range(3):
        conn.execute(
            "INSERT INTO session_stats (session_id, request_id, model_name, input_tokens, created_at) "
            "VALUES ('s', ?, 'm', ?, '2025-06-15 10:00:00')",
            (f"r{n}", big),
        )
        conn.execute(
            "INSERT INTO stream_metrics (session_id, request_id, time_to_first_token_ms, total_chunks, "
            "streaming_duration_ms) VALUES ('s', ?, ?, 1, 1)",
            (f"r{n}", big),
        )
    conn.execute("UPDATE sessions SET user_agent = 'a/1' WHERE session_id = 's'")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM sessions WHERE session_id = 's'")
    assert conn.execute("SELECT COUNT(*) FROM session_stats").fetchone() == (0,)
    assert conn.execute("SELECT COUNT(*) FROM rollup_requests_by_agent").fetchone() == (0,)


def test_a_dropped_trigger_makes_the_rollups_absent_until_rebuilt() -> None:
    """A tool that rebuilds a source table drops its triggers: the rollups are then not read, and rebuilt on open."""
    conn = fresh_db()
    populate(conn, random.Random(3), NOW)
    conn.execute("DROP TRIGGER trg_rollup_ttft_insert")
    conn.execute(
        "INSERT INTO stream_metrics (session_id, request_id, time_to_first_token_ms, total_chunks, "
        "streaming_duration_ms) VALUES ('s0', 'late', 5, 1, 1)"
    )
    assert not available(conn)
    ensure_schema(conn)
    assert available(conn)
    assert_rollups_true(conn)
