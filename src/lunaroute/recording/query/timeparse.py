"""Parsing the time bounds users type: `24h`, `7d`, `30m`, `2w` (ago), or an ISO 8601 date or instant."""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["parse_when"]

_RELATIVE = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: dt.datetime) -> dt.datetime:
    """The instant `text` names, as aware UTC: a duration before `now`, or an ISO date/date-time.

    A date means its UTC midnight; a date-time without an offset is taken as UTC. Raises `ValueError`.
    """
    value = text.strip().lower()
    match = _RELATIVE.fullmatch(value)
    if match:
        try:
            return now - dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise ValueError(f"too far back: {text[:40]!r}") from None
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a time: {text[:40]!r} (use e.g. 24h, 7d, 2026-03-01 or 2026-03-01T12:00:00Z)") from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
