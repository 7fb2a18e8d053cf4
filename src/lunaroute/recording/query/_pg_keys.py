"""PostgreSQL query: requests, tokens and cost per gateway key (and so per team) in a window.

The twin of `_sqlite_keys`: keyed sessions' requests, read from `session_stats` by `created_at`, joined to
their session, and priced per (provider, model) in the same order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lunaroute.recording.query._models import KeyUsage, PriceFn, TokenCounts
from lunaroute.recording.query._pg_sql import TOKEN_SUMS, created_floor
from lunaroute.recording.query._sql import price_sum, tokens_at

__all__ = ["key_usage"]


async def key_usage(conn: Any, hours: int, now: dt.datetime, price: PriceFn | None) -> tuple[KeyUsage, ...]:
    """One row per key that made requests in the last `hours`, busiest first (unkeyed requests left out)."""
    rows = await conn.fetch(
        'SELECT s.key_id, MAX(s.key_name COLLATE "C"), MAX(s.team COLLATE "C"), s.provider, ss.model_name, '
        f"COUNT(*), {TOKEN_SUMS} FROM session_stats ss JOIN sessions s ON s.session_id = ss.session_id "
        "WHERE s.key_id IS NOT NULL AND ss.created_at >= $1 GROUP BY s.key_id, s.provider, ss.model_name "
        'ORDER BY s.key_id COLLATE "C", s.provider COLLATE "C", ss.model_name COLLATE "C"',
        created_floor(now - dt.timedelta(hours=hours)),
    )
    groups: dict[str, tuple[str, str | None, int, list[tuple[str, str, TokenCounts]]]] = {}
    for r in rows:
        row = tuple(r)
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
