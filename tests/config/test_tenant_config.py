"""A Rust bootstrap file with `source: database`: the tenant's config is read from PostgreSQL's
`tenant_configs` and checked like a file, by `load_config`, `config check` and a running gateway's reload."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from lunaroute.cli._main import cli
from lunaroute.config import TenantConfig, load_config, resolve_config_path
from lunaroute.errors import ConfigError

TENANT = str(uuid.uuid4())
# The table as the Rust LunaRoute's PostgreSQL config store creates it.
DDL = """
CREATE TABLE IF NOT EXISTS tenant_configs (
    tenant_id UUID PRIMARY KEY,
    config JSONB NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    version INT NOT NULL DEFAULT 1,
    CONSTRAINT valid_config CHECK (jsonb_typeof(config) = 'object')
)
"""


async def store(dsn: str, tenant: str, config: dict[str, object]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(DDL)
        await conn.execute(
            "INSERT INTO tenant_configs (tenant_id, config) VALUES ($1::uuid, $2::jsonb) "
            "ON CONFLICT (tenant_id) DO UPDATE SET config = EXCLUDED.config",
            tenant,
            json.dumps(config),
        )
    finally:
        await conn.close()


def bootstrap(tmp_path: Path, dsn: str, tenant: str = TENANT) -> dict[str, str]:
    boot = tmp_path / "bootstrap.yaml"
    boot.write_text(f"source: database\ndatabase_url: {dsn}\ntenant_id: {tenant}\n")
    return {"LUNAROUTE_BOOTSTRAP": str(boot), "LUNAROUTE_HOME": str(tmp_path / "home")}


async def test_the_tenants_config_is_loaded_and_checked(pg_dsn: str, tmp_path: Path) -> None:
    await store(
        pg_dsn,
        TENANT,
        {"port": 9200, "routing": {"rules": [{"name": "gpt", "model_pattern": "gpt-.*", "primary": "openai"}]}},
    )
    env = bootstrap(tmp_path, pg_dsn)
    location = resolve_config_path(None, env)
    assert isinstance(location, TenantConfig)
    assert location.tenant_id == TENANT
    config = load_config(location, env)
    assert config.port == 9200
    assert config.routing.rules[0].primary == "openai"
    # It goes through the same checks as a file: a bad value names the key.
    await store(pg_dsn, TENANT, {"port": "many"})
    with pytest.raises(ConfigError, match=r"\$\.port"):
        load_config(location, env)


async def test_a_missing_tenant_or_database_is_a_clear_error(pg_dsn: str, tmp_path: Path) -> None:
    await store(pg_dsn, TENANT, {})
    other = str(uuid.uuid4())
    with pytest.raises(ConfigError, match=f"tenant {other} has no row"):
        load_config(resolve_config_path(None, bootstrap(tmp_path, pg_dsn, other)))
    with pytest.raises(ConfigError, match="cannot connect to the config database"):
        load_config(resolve_config_path(None, bootstrap(tmp_path, "postgresql://postgres@127.0.0.1:9/none")))


async def test_config_check_reads_the_tenants_config(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store(pg_dsn, TENANT, {"port": 9300})
    for name, value in bootstrap(tmp_path, pg_dsn).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LUNAROUTE_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok")
    shown = CliRunner().invoke(cli, ["config", "show"])
    assert shown.exit_code == 0, shown.output
    assert "port: 9300" in shown.output
