"""How numbers, costs, durations and instants read on the pages (plain text; the caller escapes)."""

from __future__ import annotations

import datetime as dt

from lunaroute.recording.query import format_usd

__all__ = ["cost", "count", "duration_ms", "instant", "iso", "short_id"]

DASH = "—"


def count(value: int | None) -> str:
    """`1234567` → `1,234,567`; None → a dash."""
    return DASH if value is None else f"{value:,}"


def cost(value: float | None) -> str:
    """USD with precision that suits small amounts: `<$0.0001`, `$0.0042`, `$1.23`, `$1,234`; None → a dash."""
    return format_usd(value, DASH)


def duration_ms(value: float | None) -> str:
    """`850 ms`, `2.4 s`, `3 min 5 s`; None → a dash."""
    if value is None:
        return DASH
    if value < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def iso(value: dt.datetime | None) -> str:
    """An RFC 3339 UTC instant (for `<time datetime>`); empty for None."""
    return "" if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def instant(value: dt.datetime | None) -> str:
    """`2026-03-01 14:05:09 UTC`; None → a dash."""
    return DASH if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_id(value: str, keep: int = 12) -> str:
    """The first `keep` characters of an id, with an ellipsis when cut."""
    return value if len(value) <= keep else value[:keep] + "…"
