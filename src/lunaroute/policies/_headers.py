"""The rate-limit headers of an admitted request, in each dialect's own names, formatted cheaply.

Every answer to a limited request carries them, so their cost is per request: the names are fixed per dialect and
unit, and the reset values (a duration for OpenAI, an instant for Anthropic) are kept formatted in small caches —
within one second every answer carries the same few strings.
"""

from __future__ import annotations

import datetime as dt
import functools
import math

from lunaroute.state import CheckResult
from lunaroute.types import Dialect

__all__ = ["NAMES", "anthropic_reset", "openai_reset", "rate_headers"]

NAMES: dict[tuple[Dialect, str], tuple[str, str, str]] = {
    ("openai", "requests"): (
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ),
    ("openai", "tokens"): ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("anthropic", "requests"): (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    ("anthropic", "tokens"): (
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
}
"""(limit, remaining, reset) header names per dialect and unit."""


@functools.lru_cache(maxsize=512)
def _openai_reset_ms(ms: int) -> str:
    if ms < 1000:
        return f"{max(0, ms)}ms"
    minutes, rest = divmod(math.ceil(ms / 1000), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def openai_reset(seconds: float) -> str:
    """OpenAI's reset duration format: `1s`, `6m0s`, `250ms`."""
    return _openai_reset_ms(round(seconds * 1000) if seconds < 1 else math.ceil(seconds) * 1000)


@functools.lru_cache(maxsize=256)
def _utc_iso(epoch_second: int) -> str:
    return dt.datetime.fromtimestamp(epoch_second, dt.UTC).isoformat().replace("+00:00", "Z")


def anthropic_reset(seconds: float, now: float) -> str:
    """Anthropic's reset instant (RFC 3339, whole seconds, UTC) `seconds` after `now`."""
    return _utc_iso(math.floor(now + seconds))


@functools.lru_cache(maxsize=1024)
def _text(n: int) -> str:
    return str(n)


def rate_headers(out: dict[str, str], dialect: Dialect, unit: str, limit: int, result: CheckResult, now: float) -> None:
    """Put the three headers of one limit (`unit`: requests or tokens) into `out`."""
    limit_name, remaining_name, reset_name = NAMES["anthropic" if dialect == "anthropic" else "openai", unit]
    out[limit_name] = _text(limit)
    out[remaining_name] = str(result.remaining)
    out[reset_name] = anthropic_reset(result.reset_s, now) if dialect == "anthropic" else openai_reset(result.reset_s)
