"""`open_store`: the `SessionStore` for a database named by a path (SQLite) or a URL (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from lunaroute.recording.query._models import PriceFn
from lunaroute.recording.query._store import SessionStore
from lunaroute.recording.query.postgres import PostgresSessionStore, is_postgres_url
from lunaroute.recording.query.sqlite import SqliteSessionStore

__all__ = ["open_store"]


def open_store(
    database: str | Path,
    *,
    price: PriceFn | None = None,
    schema: str | None = None,
    max_connections: int = 2,
    log_sql: bool = False,
) -> SessionStore:
    """A `PostgresSessionStore` for a `postgresql://` / `postgres://` URL (tables in `schema` when given), else a
    `SqliteSessionStore` for the file at `database`. Nothing is opened until the first query."""
    if isinstance(database, str) and is_postgres_url(database):
        return PostgresSessionStore(database, schema=schema, price=price, max_connections=max_connections)
    return SqliteSessionStore(Path(database), price=price, workers=max_connections, log_sql=log_sql)
