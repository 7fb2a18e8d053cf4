"""The rate-limit headers of an admitted request, in each dialect's own names, formatted cheaply.

Every answer to a limited request carries them, so their cost is per request: the names are fixed per dialect and
unit, and the reset values (a duration for OpenAI, an instant for Anthropic) are kept formatted in small caches —
within one second every answer carries the same few strings.
"""

from __future__ import annotations

import datetime as dt
import functools
import math

from lunaroute.types import Dialect

__all__ = ["NAMES", "anthropic_reset", "openai_reset"]

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


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


_WHOLE_SECONDS = tuple(_duration(n) for n in range(61))
"""OpenAI's reset text for 0 to 60 whole seconds (every rate window is 60 s long)."""


def openai_reset(seconds: float) -> str:
    """OpenAI's reset duration format: `1s`, `6m0s`, `250ms`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return _WHOLE_SECONDS[whole] if whole <= 60 else _duration(whole)


@functools.lru_cache(maxsize=256)
def _utc_iso(epoch_second: int) -> str:
    return dt.datetime.fromtimestamp(epoch_second, dt.UTC).isoformat().replace("+00:00", "Z")


def anthropic_reset(seconds: float, now: float) -> str:
    """Anthropic's reset instant (RFC 3339, whole seconds, UTC) `seconds` after `now`."""
    return _utc_iso(math.floor(now + seconds))
