"""The gateway key record, its secrets and digests, and the scope checks — pure, no I/O.

A key is `lr-` followed by 43 characters of URL-safe base64 (32 random bytes). Only its SHA-256 digest and a
short display prefix are stored: the keys are high-entropy, so a fast digest is as strong as a slow password hash
and costs one hash per request.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
import time
from typing import Literal

import msgspec

__all__ = [
    "KEY_PREFIX",
    "BudgetPeriod",
    "KeyChanges",
    "KeyRecord",
    "KeySpec",
    "digest_of",
    "display_prefix",
    "endpoint_allowed",
    "looks_like_key",
    "model_allowed",
    "new_key_id",
    "new_secret",
    "parse_duration",
]

KEY_PREFIX = "lr-"
_SECRET_BYTES = 32
_DISPLAY_CHARS = 8
_KEY_SHAPE = re.compile(r"lr-[A-Za-z0-9_-]{32,200}")

BudgetPeriod = Literal["day", "week", "month", "total"]


class KeyRecord(msgspec.Struct, kw_only=True):
    """One gateway key as stored and shown (never with its secret or digest).

    `models` and `endpoints` are shell-style patterns (`gpt-4o*`, `claude-*`, `/v1/embeddings`); an empty list
    allows everything. `rpm`, `tpm`, `max_parallel` and the budget fields are the key's own limits (None: none).
    Times are UTC epoch seconds. `version` grows with every change of the record, across the whole store.
    """

    id: str
    name: str
    prefix: str
    team: str | None = None
    models: list[str] = []
    endpoints: list[str] = []
    metadata: dict[str, str] = {}
    created_at: float = 0.0
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None
    rotated_at: float | None = None
    previous_valid_until: float | None = None
    """After a rotation, the old secret keeps working until this time."""
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod | None = None
    budget_soft_limit: float | None = None
    """Share of the budget (0-1) past which answers carry `x-lunaroute-budget-remaining-usd`."""
    budget_reroute_model: str | None = None
    """When a request does not fit the budget, serve it with this (cheaper) model instead of refusing it."""
    version: int = 0

    def status(self, now: float | None = None) -> Literal["active", "expired", "revoked"]:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class KeySpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a caller gives to create a key (CLI options or the admin API's JSON body)."""

    name: str
    team: str | None = None
    models: list[str] = []
    endpoints: list[str] = []
    metadata: dict[str, str] = {}
    expires_at: float | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod | None = None
    budget_soft_limit: float | None = None
    budget_reroute_model: str | None = None


class KeyChanges(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A partial update: only the fields given (not `UNSET`) change; `None` clears a nullable field."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    team: str | msgspec.UnsetType | None = msgspec.UNSET
    models: list[str] | msgspec.UnsetType = msgspec.UNSET
    endpoints: list[str] | msgspec.UnsetType = msgspec.UNSET
    metadata: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    expires_at: float | msgspec.UnsetType | None = msgspec.UNSET
    rpm: int | msgspec.UnsetType | None = msgspec.UNSET
    tpm: int | msgspec.UnsetType | None = msgspec.UNSET
    max_parallel: int | msgspec.UnsetType | None = msgspec.UNSET
    budget_usd: float | msgspec.UnsetType | None = msgspec.UNSET
    budget_period: BudgetPeriod | msgspec.UnsetType | None = msgspec.UNSET
    budget_soft_limit: float | msgspec.UnsetType | None = msgspec.UNSET
    budget_reroute_model: str | msgspec.UnsetType | None = msgspec.UNSET

    def as_dict(self) -> dict[str, object]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not msgspec.UNSET}


def new_secret() -> str:
    """A fresh key: `lr-` and 32 random bytes in URL-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def digest_of(secret: str) -> str:
    """The stored form of a key: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    """What lists show of a key: `lr-` and its first characters, never enough to use it."""
    return secret[: len(KEY_PREFIX) + _DISPLAY_CHARS]


def looks_like_key(value: str) -> bool:
    """Whether `value` has the shape of a gateway key (cheap; says nothing about validity)."""
    return _KEY_SHAPE.fullmatch(value) is not None


def _matches(patterns: list[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def model_allowed(record: KeyRecord, model: str | None) -> bool:
    """Whether the key may ask for `model` (a request without a model is judged by its endpoint alone)."""
    return not record.models or model is None or _matches(record.models, model)


def endpoint_allowed(record: KeyRecord, path: str) -> bool:
    """Whether the key may call `path` (normalised). `/responses` and `/models` also match as `/v1/...`."""
    if not record.endpoints:
        return True
    if _matches(record.endpoints, path):
        return True
    return not path.startswith("/v1/") and _matches(record.endpoints, "/v1" + path)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in `30s`, `15m`, `12h`, `30d`, `2w` (or a plain number of seconds). Raises `ValueError`."""
    text = text.strip().lower()
    match = _DURATION.fullmatch(text)
    if match is not None:
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return float(text)
