"""PostgreSQL rollups beside the session tables (migration 6), so the dashboard's windows read no raw rows.

What the tables hold (every figure equals the aggregate over the source rows it summarises, once the pending
deltas are added):
- `rollup_requests`: per (UTC hour of `session_stats.created_at`, model, user agent of the request's session,
  `''` for none): the request count and the eight token sums. A row without `created_at` is under hour
  `-infinity` (counted in all-time totals only, as the raw reads count it).
- `rollup_ttft`: per (UTC hour of `stream_metrics.created_at`, TTFT bucket): streamed requests and TTFT sum. A
  bucket is the TTFT to two significant digits (`TTFT_BUCKET`); the values of bucket `b` are `[b, b + width)`.
- `rollup_ttft_daily`: the same per UTC day (folded from the same deltas), so a month reads 30 rows a bucket.
- `rollup_started`: per UTC hour of `sessions.started_at`: sessions, completed, failed, duration sum and count.
- `rollup_session_models` / `rollup_sessions`: per (session, model) and per session with requests: the latest
  `created_at`, so "sessions with a request since T" is an index range.

Replicas write concurrently, so the triggers never update a shared row: each change of a source row appends
its signed delta to `rollup_requests_delta` / `rollup_ttft_delta` / `rollup_started_delta` (an insert takes no lock another writer
waits on), and `lunaroute_compact_rollups()` — called by the writers every few seconds, one at a time under an
advisory lock — moves the deltas into the rollup rows in one transaction. Readers add the deltas not yet
compacted, so they are exact at any moment. Only the per-session tables are upserted in place: their rows are per session, which one replica writes at a time.
"""

from __future__ import annotations

__all__ = ["COMPACT_SQL", "MIGRATION_SQL", "TTFT_BUCKET", "ttft_width"]

_TOKENS = (
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)
_COLS = ", ".join(_TOKENS)
_DEFS = ", ".join(f"{c} BIGINT NOT NULL" for c in _TOKENS)
_COMPACT_LOCK = 0x4C554E42  # "LUNB": one compaction at a time across replicas


def _width(v: str) -> str:
    return (
        f"(CASE WHEN {v} < 100 THEN 1 WHEN {v} < 1000 THEN 10 WHEN {v} < 10000 THEN 100 "
        f"WHEN {v} < 100000 THEN 1000 WHEN {v} < 1000000 THEN 10000 ELSE 100000 END)"
    )


def ttft_width(bucket: int) -> int:
    """The width of TTFT bucket `bucket` (its values are `[bucket, bucket + width)`)."""
    for limit, width in ((100, 1), (1000, 10), (10_000, 100), (100_000, 1000), (1_000_000, 10_000)):
        if bucket < limit:
            return width
    return 100_000


TTFT_BUCKET = f"((time_to_first_token_ms / {_width('time_to_first_token_ms')}) * {_width('time_to_first_token_ms')})"
"""The bucket of a `stream_metrics` row's TTFT (integer division: the value to two significant digits)."""

_HOUR = "COALESCE(date_trunc('hour', {r}.created_at AT TIME ZONE 'UTC'), '-infinity'::timestamp)"
_STARTED = (
    "date_trunc('hour', {r}.started_at AT TIME ZONE 'UTC'), {sign}1, "
    "{sign}(CASE WHEN {r}.completed_at IS NULL THEN 0 ELSE 1 END), "
    "{sign}(CASE WHEN {r}.success = false THEN 1 ELSE 0 END), {sign}COALESCE({r}.total_duration_ms, 0), "
    "{sign}(CASE WHEN {r}.total_duration_ms IS NULL THEN 0 ELSE 1 END)"
)


def _tokens(r: str, sign: str) -> str:
    return ", ".join(f"{sign}COALESCE({r}.{c}, 0)" for c in _TOKENS)


_MIGRATION = f"""
CREATE TABLE rollup_requests (hour TIMESTAMP NOT NULL, model_name TEXT NOT NULL, user_agent TEXT NOT NULL,
    requests BIGINT NOT NULL, {_DEFS}, PRIMARY KEY (hour, model_name, user_agent));
CREATE TABLE rollup_requests_delta (id BIGSERIAL PRIMARY KEY, hour TIMESTAMP NOT NULL, model_name TEXT NOT NULL,
    user_agent TEXT NOT NULL, requests BIGINT NOT NULL, {_DEFS});
CREATE TABLE rollup_ttft (hour TIMESTAMP NOT NULL, bucket BIGINT NOT NULL, requests BIGINT NOT NULL,
    ttft_sum BIGINT NOT NULL, PRIMARY KEY (hour, bucket));
CREATE TABLE rollup_ttft_delta (id BIGSERIAL PRIMARY KEY, hour TIMESTAMP NOT NULL, bucket BIGINT NOT NULL,
    requests BIGINT NOT NULL, ttft_sum BIGINT NOT NULL);
CREATE TABLE rollup_ttft_daily (day DATE NOT NULL, bucket BIGINT NOT NULL, requests BIGINT NOT NULL,
    ttft_sum BIGINT NOT NULL, PRIMARY KEY (day, bucket));
CREATE TABLE rollup_started (hour TIMESTAMP NOT NULL PRIMARY KEY, sessions BIGINT NOT NULL, completed BIGINT NOT NULL,
    failed BIGINT NOT NULL, duration_sum BIGINT NOT NULL, duration_n BIGINT NOT NULL);
CREATE TABLE rollup_started_delta (id BIGSERIAL PRIMARY KEY, hour TIMESTAMP NOT NULL, sessions BIGINT NOT NULL,
    completed BIGINT NOT NULL, failed BIGINT NOT NULL, duration_sum BIGINT NOT NULL, duration_n BIGINT NOT NULL);
CREATE TABLE rollup_session_models (session_id TEXT NOT NULL, model_name TEXT NOT NULL,
    last_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (session_id, model_name));
CREATE INDEX idx_rollup_session_models_model ON rollup_session_models(model_name, last_at);
CREATE TABLE rollup_sessions (session_id TEXT PRIMARY KEY, last_at TIMESTAMPTZ NOT NULL);
CREATE INDEX idx_rollup_sessions_last ON rollup_sessions(last_at);
CREATE INDEX IF NOT EXISTS idx_session_stats_session_model ON session_stats(session_id, model_name, created_at);
CREATE INDEX IF NOT EXISTS idx_stream_metrics_ttft_created ON stream_metrics(time_to_first_token_ms, created_at);

CREATE FUNCTION lunaroute_session_agent(sid TEXT) RETURNS TEXT LANGUAGE sql STABLE AS
    $$ SELECT COALESCE((SELECT user_agent FROM sessions WHERE session_id = sid), '') $$;

CREATE FUNCTION lunaroute_session_model_seen(sid TEXT, model TEXT) RETURNS void LANGUAGE sql AS $$
    DELETE FROM rollup_session_models WHERE session_id = sid AND model_name = model;
    INSERT INTO rollup_session_models (session_id, model_name, last_at)
    SELECT sid, model, max(created_at) FROM session_stats WHERE session_id = sid AND model_name = model
    HAVING max(created_at) IS NOT NULL;
    DELETE FROM rollup_sessions WHERE session_id = sid;
    INSERT INTO rollup_sessions (session_id, last_at)
    SELECT sid, max(last_at) FROM rollup_session_models WHERE session_id = sid HAVING max(last_at) IS NOT NULL;
$$;

CREATE FUNCTION lunaroute_rollup_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_requests_delta (hour, model_name, user_agent, requests, {_COLS})
        VALUES ({_HOUR.format(r="OLD")}, OLD.model_name, lunaroute_session_agent(OLD.session_id), -1,
                {_tokens("OLD", "-")});
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_requests_delta (hour, model_name, user_agent, requests, {_COLS})
        VALUES ({_HOUR.format(r="NEW")}, NEW.model_name, lunaroute_session_agent(NEW.session_id), 1,
                {_tokens("NEW", "")});
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.created_at IS NOT NULL THEN
            INSERT INTO rollup_session_models (session_id, model_name, last_at)
            VALUES (NEW.session_id, NEW.model_name, NEW.created_at)
            ON CONFLICT (session_id, model_name) DO UPDATE SET last_at = GREATEST(rollup_session_models.last_at,
                EXCLUDED.last_at);
            INSERT INTO rollup_sessions (session_id, last_at) VALUES (NEW.session_id, NEW.created_at)
            ON CONFLICT (session_id) DO UPDATE SET last_at = GREATEST(rollup_sessions.last_at, EXCLUDED.last_at);
        END IF;
    ELSIF OLD.session_id IS DISTINCT FROM NEW.session_id OR OLD.model_name IS DISTINCT FROM NEW.model_name
            OR OLD.created_at IS DISTINCT FROM NEW.created_at OR TG_OP = 'DELETE' THEN
        PERFORM lunaroute_session_model_seen(OLD.session_id, OLD.model_name);
        IF TG_OP = 'UPDATE' THEN
            PERFORM lunaroute_session_model_seen(NEW.session_id, NEW.model_name);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION lunaroute_rollup_agent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before TEXT := COALESCE(OLD.user_agent, '');
    after TEXT := CASE WHEN TG_OP = 'DELETE' THEN '' ELSE COALESCE(NEW.user_agent, '') END;
BEGIN
    IF before <> after THEN  -- the session's requests move to its new user agent ('' once it is deleted)
        INSERT INTO rollup_requests_delta (hour, model_name, user_agent, requests, {_COLS})
        SELECT {_HOUR.format(r="ss")}, ss.model_name, agent.name, agent.sign * COUNT(*),
               {", ".join(f"agent.sign * COALESCE(SUM(ss.{c}), 0)" for c in _TOKENS)}
        FROM session_stats ss, (VALUES (before, -1), (after, 1)) AS agent(name, sign)
        WHERE ss.session_id = OLD.session_id GROUP BY 1, 2, 3, agent.sign;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE FUNCTION lunaroute_rollup_started() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_started_delta (hour, sessions, completed, failed, duration_sum, duration_n)
        VALUES ({_STARTED.format(r="OLD", sign="-")});
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_started_delta (hour, sessions, completed, failed, duration_sum, duration_n)
        VALUES ({_STARTED.format(r="NEW", sign="")});
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION lunaroute_rollup_ttft() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_ttft_delta (hour, bucket, requests, ttft_sum)
        VALUES ({_HOUR.format(r="OLD")}, {TTFT_BUCKET.replace("time_to_first_token_ms", "OLD.time_to_first_token_ms")},
                -1, -OLD.time_to_first_token_ms);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_ttft_delta (hour, bucket, requests, ttft_sum)
        VALUES ({_HOUR.format(r="NEW")}, {TTFT_BUCKET.replace("time_to_first_token_ms", "NEW.time_to_first_token_ms")},
                1, NEW.time_to_first_token_ms);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_rollup_stats AFTER INSERT OR DELETE ON session_stats
    FOR EACH ROW EXECUTE FUNCTION lunaroute_rollup_stats();
CREATE TRIGGER trg_rollup_stats_update AFTER UPDATE ON session_stats FOR EACH ROW
    WHEN (OLD.session_id IS DISTINCT FROM NEW.session_id OR OLD.model_name IS DISTINCT FROM NEW.model_name
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR {" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _TOKENS)})
    EXECUTE FUNCTION lunaroute_rollup_stats();
CREATE TRIGGER trg_rollup_agent_update AFTER UPDATE OF user_agent ON sessions FOR EACH ROW
    WHEN (OLD.user_agent IS DISTINCT FROM NEW.user_agent) EXECUTE FUNCTION lunaroute_rollup_agent();
CREATE TRIGGER trg_rollup_agent_delete BEFORE DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION lunaroute_rollup_agent();
CREATE TRIGGER trg_rollup_started AFTER INSERT OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION lunaroute_rollup_started();
CREATE TRIGGER trg_rollup_started_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.completed_at IS DISTINCT FROM NEW.completed_at
          OR OLD.success IS DISTINCT FROM NEW.success OR OLD.total_duration_ms IS DISTINCT FROM NEW.total_duration_ms)
    EXECUTE FUNCTION lunaroute_rollup_started();
CREATE TRIGGER trg_rollup_ttft AFTER INSERT OR DELETE ON stream_metrics
    FOR EACH ROW EXECUTE FUNCTION lunaroute_rollup_ttft();
CREATE TRIGGER trg_rollup_ttft_update AFTER UPDATE ON stream_metrics FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.time_to_first_token_ms IS DISTINCT FROM NEW.time_to_first_token_ms)
    EXECUTE FUNCTION lunaroute_rollup_ttft();

-- The rows already there (the triggers above already hold the tables' write locks: nothing slips between).
INSERT INTO rollup_requests (hour, model_name, user_agent, requests, {_COLS})
SELECT {_HOUR.format(r="ss")}, ss.model_name, COALESCE(s.user_agent, ''), COUNT(*),
       {", ".join(f"COALESCE(SUM(ss.{c}), 0)" for c in _TOKENS)}
FROM session_stats ss LEFT JOIN sessions s ON s.session_id = ss.session_id GROUP BY 1, 2, 3;
INSERT INTO rollup_ttft (hour, bucket, requests, ttft_sum)
SELECT {_HOUR.format(r="m")}, {TTFT_BUCKET.replace("time_to_first_token_ms", "m.time_to_first_token_ms")}, COUNT(*),
       SUM(m.time_to_first_token_ms) FROM stream_metrics m GROUP BY 1, 2;
INSERT INTO rollup_ttft_daily (day, bucket, requests, ttft_sum)
SELECT hour::date, bucket, SUM(requests), SUM(ttft_sum) FROM rollup_ttft WHERE hour > '-infinity' GROUP BY 1, 2;
INSERT INTO rollup_session_models (session_id, model_name, last_at)
SELECT session_id, model_name, max(created_at) FROM session_stats WHERE created_at IS NOT NULL GROUP BY 1, 2;
INSERT INTO rollup_sessions (session_id, last_at)
SELECT session_id, max(last_at) FROM rollup_session_models GROUP BY 1;
INSERT INTO rollup_started (hour, sessions, completed, failed, duration_sum, duration_n)
SELECT date_trunc('hour', started_at AT TIME ZONE 'UTC'), COUNT(*), COUNT(completed_at),
       COUNT(*) FILTER (WHERE success = false), COALESCE(SUM(total_duration_ms), 0), COUNT(total_duration_ms)
FROM sessions GROUP BY 1;

CREATE FUNCTION lunaroute_compact_rollups() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock({_COMPACT_LOCK}) THEN
        RETURN false;  -- another replica is compacting
    END IF;
    WITH moved AS (DELETE FROM rollup_requests_delta RETURNING *)
    INSERT INTO rollup_requests AS r (hour, model_name, user_agent, requests, {_COLS})
    SELECT hour, model_name, user_agent, SUM(requests), {", ".join(f"SUM({c})" for c in _TOKENS)}
    FROM moved GROUP BY 1, 2, 3
    ON CONFLICT (hour, model_name, user_agent) DO UPDATE SET requests = r.requests + EXCLUDED.requests,
        {", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in _TOKENS)};
    DELETE FROM rollup_requests WHERE requests = 0 AND {" AND ".join(f"{c} = 0" for c in _TOKENS)};
    WITH moved AS (DELETE FROM rollup_ttft_delta RETURNING *),
    sums AS (SELECT hour, bucket, SUM(requests) AS n, SUM(ttft_sum) AS t FROM moved GROUP BY 1, 2),
    hourly AS (
        INSERT INTO rollup_ttft AS r (hour, bucket, requests, ttft_sum) SELECT hour, bucket, n, t FROM sums
        ON CONFLICT (hour, bucket) DO UPDATE SET requests = r.requests + EXCLUDED.requests,
            ttft_sum = r.ttft_sum + EXCLUDED.ttft_sum)
    INSERT INTO rollup_ttft_daily AS r (day, bucket, requests, ttft_sum)
    SELECT hour::date, bucket, SUM(n), SUM(t) FROM sums WHERE hour > '-infinity' GROUP BY 1, 2
    ON CONFLICT (day, bucket) DO UPDATE SET requests = r.requests + EXCLUDED.requests,
        ttft_sum = r.ttft_sum + EXCLUDED.ttft_sum;
    DELETE FROM rollup_ttft WHERE requests = 0 AND ttft_sum = 0;
    DELETE FROM rollup_ttft_daily WHERE requests = 0 AND ttft_sum = 0;
    WITH moved AS (DELETE FROM rollup_started_delta RETURNING *)
    INSERT INTO rollup_started AS r (hour, sessions, completed, failed, duration_sum, duration_n)
    SELECT hour, SUM(sessions), SUM(completed), SUM(failed), SUM(duration_sum), SUM(duration_n) FROM moved GROUP BY 1
    ON CONFLICT (hour) DO UPDATE SET sessions = r.sessions + EXCLUDED.sessions,
        completed = r.completed + EXCLUDED.completed, failed = r.failed + EXCLUDED.failed,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum, duration_n = r.duration_n + EXCLUDED.duration_n;
    DELETE FROM rollup_started WHERE sessions = 0 AND completed = 0 AND failed = 0 AND duration_sum = 0
        AND duration_n = 0;
    RETURN true;
END $$;
"""

MIGRATION_SQL = _MIGRATION
"""Migration 6: the rollup tables, their triggers, the compaction function, and the backfill."""

COMPACT_SQL = "SELECT lunaroute_compact_rollups()"
"""Fold the pending deltas into the rollups (a no-op returning false while another replica does it)."""
