"""Parsing and bounding the query parameters of the session API; a bad value raises `BadParam` (→ 400)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from lunaroute.recording.events import is_valid_session_id, utcnow
from lunaroute.recording.query import MAX_PAGE, SORT_KEYS, Order, SessionFilter, SortKey, parse_when

__all__ = [
    "BadParam",
    "int_param",
    "order_param",
    "request_id",
    "session_filter",
    "session_id",
    "sort_params",
    "text_param",
]

_MAX_TEXT = 1000
_MAX_INT = 10**12


class BadParam(ValueError):
    """A query or path parameter that is malformed or out of range; its message names the parameter."""


def int_param(query: Mapping[str, str], name: str, default: int, *, low: int = 0, high: int = _MAX_INT) -> int:
    """`query[name]` as an int in `[low, high]` (`default` when absent or empty)."""
    raw = query.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 15:
        raise BadParam(f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise BadParam(f"{name} must be between {low} and {high}")
    return value


def text_param(query: Mapping[str, str], name: str) -> str | None:
    """`query[name]` (None when absent or empty); longer than 1000 characters or containing NUL is an error."""
    value = query.get(name, "")
    if not value:
        return None
    if len(value) > _MAX_TEXT or "\x00" in value:
        raise BadParam(f"{name} is too long or contains NUL")
    return value


def _bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise BadParam(f"{name} must be true or false")


def _time_param(query: Mapping[str, str], name: str, now: dt.datetime) -> dt.datetime | None:
    raw = text_param(query, name)
    if raw is None:
        return None
    try:
        return parse_when(raw, now)
    except ValueError as exc:
        raise BadParam(f"{name}: {exc}") from None


def sort_params(query: Mapping[str, str]) -> tuple[SortKey, bool]:
    """The listing order from `sort` (one of `SORT_KEYS`, default `started`) and `order` (default `desc`)."""
    raw = query.get("sort", "").strip().lower() or "started"
    key = next((k for k in SORT_KEYS if k == raw), None)
    if key is None:
        raise BadParam(f"sort must be one of {', '.join(SORT_KEYS)}")
    order = query.get("order", "desc").strip().lower() or "desc"
    if order not in ("asc", "desc"):
        raise BadParam("order must be asc or desc")
    return key, order == "desc"


def order_param(query: Mapping[str, str]) -> Order:
    raw = query.get("order", "asc").strip().lower() or "asc"
    if raw == "asc":
        return "asc"
    if raw == "desc":
        return "desc"
    raise BadParam("order must be asc or desc")


def page_params(query: Mapping[str, str], default_limit: int) -> tuple[int, int]:
    """`offset` (≥ 0) and `limit` (1..MAX_PAGE)."""
    return int_param(query, "offset", 0), int_param(query, "limit", default_limit, low=1, high=MAX_PAGE)


def session_filter(query: Mapping[str, str]) -> SessionFilter:
    """The listing filter from `user_agent`, `model`, `provider`, `success`, `min_tokens`, `q`, `since`, `until`,
    `key`, `team` and `tool`."""
    now = utcnow()
    min_tokens = query.get("min_tokens", "").strip()
    return SessionFilter(
        since=_time_param(query, "since", now),
        until=_time_param(query, "until", now),
        model=text_param(query, "model"),
        provider=text_param(query, "provider"),
        user_agent=text_param(query, "user_agent"),
        success=_bool_param(query, "success"),
        min_tokens=int_param(query, "min_tokens", 0) if min_tokens else None,
        search=text_param(query, "q"),
        key=text_param(query, "key"),
        team=text_param(query, "team"),
        tool=text_param(query, "tool"),
    )


def session_id(value: str) -> str:
    """A path session id, checked before it reaches a query or a file name."""
    if not is_valid_session_id(value):
        raise BadParam("invalid session id: expected 1-255 characters of A-Z a-z 0-9 _ -")
    return value


def request_id(value: str) -> str:
    """A path request id (compared with recorded ids only, never used in a path)."""
    if not value or len(value) > 255 or "\x00" in value:
        raise BadParam("invalid request id")
    return value
