"""A config kept in PostgreSQL, as the Rust LunaRoute's bootstrap file can name it (`source: database`).

The Rust LunaRoute's config store keeps one JSON document per tenant in `tenant_configs (tenant_id UUID PRIMARY
KEY, config JSONB, ...)`; a bootstrap file with `source: database`, `database_url` and `tenant_id` makes the
server load that tenant's document. Here the document is read the same way and then goes through exactly the
checks a file gets (a reload reads it again).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yarl import URL

from lunaroute.errors import ConfigError

__all__ = ["TenantConfig"]

_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """Where a bootstrap file points: the tenant's row of `tenant_configs` in the database at `database_url`."""

    database_url: str
    tenant_id: str
    bootstrap: Path

    @classmethod
    def parse(cls, raw: dict[str, Any], bootstrap: Path) -> TenantConfig:
        """From a bootstrap document with `source: database`. Raises `ConfigError` for a bad URL or tenant id."""
        source = str(bootstrap)
        url = raw.get("database_url")
        if not isinstance(url, str) or URL(url).scheme not in ("postgres", "postgresql"):
            raise ConfigError("must be a postgres:// or postgresql:// URL", source=source, path="$.database_url")
        tenant = raw.get("tenant_id")
        try:
            tenant_id = str(uuid.UUID(str(tenant)))
        except ValueError:
            raise ConfigError("must be a UUID", source=source, path="$.tenant_id") from None
        return cls(url, tenant_id, bootstrap)

    def __str__(self) -> str:
        where = URL(self.database_url)
        shown = where.with_password("***") if where.password else where
        return f"{shown} tenant_configs[{self.tenant_id}] (from {self.bootstrap})"

    def read(self) -> Any:
        """The tenant's config document. Raises `ConfigError` when it cannot be read or there is none."""
        # Loading is synchronous (the CLI, a reload's worker thread): the query runs on a loop of its own thread.
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lunaroute-tenant-config") as pool:
            document = pool.submit(asyncio.run, self._fetch()).result()
        if document is None:
            raise ConfigError(f"tenant {self.tenant_id} has no row in tenant_configs", source=str(self))
        return json.loads(document) if isinstance(document, str) else document

    async def _fetch(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]

        try:
            conn = await asyncpg.connect(self.database_url, timeout=_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise ConfigError(f"cannot connect to the config database: {exc}", source=str(self)) from None
        try:
            return await conn.fetchval(
                "SELECT config::text FROM tenant_configs WHERE tenant_id = $1::uuid", self.tenant_id
            )
        except asyncpg.PostgresError as exc:
            raise ConfigError(f"cannot read tenant_configs: {exc}", source=str(self)) from None
        finally:
            await conn.close()
