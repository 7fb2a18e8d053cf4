"""Blocking SQLite query: requests, tokens and cost per gateway key (and so per team) in a window.

Keyed sessions carry `key_id`, `key_name` and `team` (gateway `auth.mode: keys`); their requests are read from
`session_stats` by `created_at`, joined to their session, and priced per (provider, model).
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from lunaroute.recording.query._models import KeyUsage, PriceFn, TokenCounts
from lunaroute.recording.query._sql import TOKEN_SUMS, created_bound, price_sum, tokens_at

__all__ = ["key_usage"]


def key_usage(conn: sqlite3.Connection, hours: int, now: dt.datetime, price: PriceFn | None) -> tuple[KeyUsage, ...]:
    """One row per key that made requests in the last `hours`, busiest first (unkeyed requests left out)."""
    since = now - dt.timedelta(hours=hours)
    rows = conn.execute(
        "SELECT s.key_id, MAX(s.key_name), MAX(s.team), s.provider, ss.model_name, COUNT(*), "
        f"{TOKEN_SUMS} FROM session_stats ss JOIN sessions s ON s.session_id = ss.session_id "
        "WHERE s.key_id IS NOT NULL AND ss.created_at >= ? "
        "GROUP BY s.key_id, s.provider, ss.model_name ORDER BY s.key_id, s.provider, ss.model_name",
        (created_bound(since),),
    ).fetchall()
    groups: dict[str, tuple[str, str | None, int, list[tuple[str, str, TokenCounts]]]] = {}
    for row in rows:
        key_id, name, team, provider, model, count = (str(row[0]), row[1], row[2], row[3], row[4], int(row[5]))
        tokens = tokens_at(row, 6)
        _, _, seen, items = groups.get(key_id, (str(name or key_id), None, 0, []))
        items.append((str(provider or ""), str(model or ""), tokens))
        groups[key_id] = (str(name or key_id), team if team is None else str(team), seen + count, items)
    out = []
    for key_id, (name, team, count, items) in groups.items():
        total = TokenCounts()
        for _, _, tokens in items:
            total = total.plus(tokens)
        out.append(
            KeyUsage(
                key_id=key_id,
                key_name=name,
                team=team,
                request_count=count,
                tokens=total,
                total_tokens=total.total,
                cost_usd=price_sum(price, items),
            )
        )
    out.sort(key=lambda k: (-k.request_count, k.key_name))
    return tuple(out)
