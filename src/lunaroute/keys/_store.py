"""The `KeyStore` Protocol, the row layout both stores share, and `open_key_store(url)`.

A store keeps one row per key: the record's fields, the digest of its current secret and, after a rotation, the
digest of the previous one. Every change of a row takes a new `version`, larger than any before in the store, so a
gateway process stays current by asking for the rows changed since the largest version it has seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from lunaroute.keys._ledger import BudgetLine
from lunaroute.keys._record import KeyRecord

__all__ = ["COLUMNS", "KeyStore", "StoredKey", "open_key_store", "record_from_row", "row_values", "schema_ddl"]

TABLE = "lunaroute_keys"
SPEND = "lunaroute_spend"
HOLDS = "lunaroute_budget_holds"

COLUMNS = (
    "id",
    "name",
    "prefix",
    "digest",
    "previous_digest",
    "team",
    "models",
    "endpoints",
    "metadata",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "rotated_at",
    "previous_valid_until",
    "rpm",
    "tpm",
    "max_parallel",
    "budget_usd",
    "budget_period",
    "budget_soft_limit",
    "budget_reroute_model",
    "version",
)
"""Column order of `SELECT` and `INSERT` in both stores."""

_JSON_FIELDS = frozenset({"models", "endpoints", "metadata"})
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A record with the digests that unlock it (`previous_digest` only while a rotation's grace lasts)."""

    record: KeyRecord
    digest: str
    previous_digest: str | None


class KeyStore(Protocol):
    """Where gateway keys live: SQLite (one host) or PostgreSQL (shared by replicas)."""

    async def insert(self, record: KeyRecord, digest: str) -> KeyRecord:
        """Add a new key; returns it with its version."""
        ...

    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        """All keys (of `team`), oldest first."""
        ...

    async def update(self, key_id: str, fields: Mapping[str, object]) -> KeyRecord | None:
        """Change record fields (and `digest`/`previous_digest` on rotation); None if there is no such key."""
        ...

    async def changes_since(self, version: int) -> list[StoredKey]:
        """Rows whose version is above `version`, in version order."""
        ...

    async def touch(self, last_used: Mapping[str, float]) -> None:
        """Record last-use times (key id → time) without changing versions."""
        ...

    async def reserve(self, hold_id: str, lines: Sequence[BudgetLine], now: float) -> tuple[int | None, list[float]]:
        """Hold every line's amount if each fits its budget (spend + live holds + amount ≤ budget), atomically
        across processes; else hold nothing. Returns the index of the first line that does not fit (None when
        all fit) and each line's budget left (after the hold when it was taken)."""
        ...

    async def settle(self, hold_id: str, spends: Sequence[tuple[str, str, float]], now: float) -> None:
        """Drop `hold_id`'s holds and add each (scope, period, usd) to the spend, in one transaction."""
        ...

    async def spend(self, scope: str, period: str, now: float) -> tuple[float, float]:
        """(spent, held) of `scope` in `period`."""
        ...

    async def aclose(self) -> None: ...


_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    previous_digest TEXT,
    team TEXT,
    models TEXT NOT NULL DEFAULT '[]',
    endpoints TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{{{{}}}}',
    created_at {{real}} NOT NULL,
    expires_at {{real}},
    revoked_at {{real}},
    last_used_at {{real}},
    rotated_at {{real}},
    previous_valid_until {{real}},
    rpm INTEGER,
    tpm INTEGER,
    max_parallel INTEGER,
    budget_usd {{real}},
    budget_period TEXT,
    budget_soft_limit {{real}},
    budget_reroute_model TEXT,
    version {{big}} NOT NULL
)""",
    f"CREATE INDEX IF NOT EXISTS idx_{TABLE}_version ON {TABLE}(version)",
    f"CREATE INDEX IF NOT EXISTS idx_{TABLE}_team ON {TABLE}(team)",
    f"""CREATE TABLE IF NOT EXISTS {SPEND} (
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    spent_usd {{real}} NOT NULL DEFAULT 0,
    updated_at {{real}},
    PRIMARY KEY (scope, period)
)""",
    f"""CREATE TABLE IF NOT EXISTS {HOLDS} (
    hold_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    amount_usd {{real}} NOT NULL,
    expires_at {{real}} NOT NULL,
    PRIMARY KEY (hold_id, scope)
)""",
    f"CREATE INDEX IF NOT EXISTS idx_{HOLDS}_scope ON {HOLDS}(scope, period)",
)


def schema_ddl(*, real: str, big: str) -> tuple[str, ...]:
    """The tables of the key store (keys, spend, budget holds) with the database's float and 64-bit types."""
    return tuple(statement.format(real=real, big=big) for statement in _SCHEMA)


def row_values(record: KeyRecord, digest: str, previous_digest: str | None) -> list[Any]:
    """The values of `COLUMNS` for `record` (JSON text for the list and map fields); version last."""
    values: list[Any] = []
    for column in COLUMNS:
        if column == "digest":
            values.append(digest)
        elif column == "previous_digest":
            values.append(previous_digest)
        elif column in _JSON_FIELDS:
            values.append(_encode(getattr(record, column)).decode())
        else:
            values.append(getattr(record, column))
    return values


def encode_field(name: str, value: object) -> object:
    """A field value as stored (JSON text for lists and maps)."""
    return _encode(value).decode() if name in _JSON_FIELDS else value


def record_from_row(row: Sequence[Any]) -> StoredKey:
    """A `StoredKey` from a row in `COLUMNS` order."""
    fields = dict(zip(COLUMNS, row, strict=True))
    digest = fields.pop("digest")
    previous = fields.pop("previous_digest")
    for name in _JSON_FIELDS:
        fields[name] = msgspec.json.decode(fields[name]) if fields[name] else ([] if name != "metadata" else {})
    record = msgspec.convert(fields, KeyRecord)
    return StoredKey(record=record, digest=digest, previous_digest=previous)


async def open_key_store(url: str) -> KeyStore:
    """A connected store: `postgresql://…` (or `postgres://…`) for PostgreSQL, else a SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        from lunaroute.keys._postgres import PostgresKeyStore

        return await PostgresKeyStore.open(url)
    from lunaroute.keys._sqlite import SqliteKeyStore

    return await SqliteKeyStore.open(url)
