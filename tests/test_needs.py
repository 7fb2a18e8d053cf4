"""The rule for tests that need a component CI provides: fail in CI, skip elsewhere; the PostgreSQL test URL."""

from __future__ import annotations

import pytest
from tests._needs import DEFAULT_PG, in_ci, missing, pg_server_url, pg_url


@pytest.mark.parametrize(("value", "ci"), [("true", True), ("1", True), ("TRUE", True), ("", False), ("false", False)])
def test_ci_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, ci: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is ci


def test_a_missing_component_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is missing: not installed"):
        missing("Chromium", "not installed")


def test_a_missing_component_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is missing: not installed"):
        missing("Chromium", "not installed")


def test_the_postgres_url_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUNAROUTE_TEST_PG", raising=False)
    assert pg_server_url() == DEFAULT_PG == "postgresql://postgres@127.0.0.1:5432/test"
    monkeypatch.setenv("LUNAROUTE_TEST_PG", "postgresql://u:pw@db.example:6543/admin?sslmode=require")
    assert pg_server_url() == "postgresql://u:pw@db.example:6543/admin?sslmode=require"


def test_pg_url_replaces_the_database_host_and_port() -> None:
    base = "postgresql://u:pw@db.example:6543/admin?sslmode=require"
    assert pg_url(base, database="t1") == "postgresql://u:pw@db.example:6543/t1?sslmode=require"
    assert pg_url(base, host="127.0.0.1", port=9) == "postgresql://u:pw@127.0.0.1:9/admin?sslmode=require"
    assert pg_url("postgresql://127.0.0.1/x", port=7) == "postgresql://127.0.0.1:7/x"
