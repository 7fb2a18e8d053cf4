"""`lunaroute keys ...` on the configured store, `config show` masking the admin key, and the refusal to serve
beyond loopback without keys (`config check`, `serve --host`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lunaroute.cli._keys import parse_expiry
from lunaroute.cli._main import cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LUNAROUTE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LUNAROUTE_CONFIG", raising=False)
    return tmp_path / "home"


def _json(runner: CliRunner, *args: str) -> object:
    result = runner.invoke(cli, ["keys", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_list_show_update_rotate_revoke(home: Path) -> None:
    runner = CliRunner()
    created = _json(
        runner,
        "create",
        "--name",
        "ci",
        "--team",
        "core",
        "--models",
        "gpt-*",
        "--metadata",
        "owner=ana",
        "--expires",
        "30d",
    )
    assert isinstance(created, dict)
    assert created["key"].startswith("lr-")
    assert {"id", "name", "key", "team"} <= set(created)
    assert created["expires_at"] == pytest.approx(time.time() + 30 * 86400, abs=60)
    assert (home / "keys.db").exists()
    assert created["key"].encode() not in (home / "keys.db").read_bytes()

    listed = _json(runner, "list", "--team", "core")
    assert [k["id"] for k in listed] == [created["id"]]  # type: ignore[union-attr]
    assert created["key"] not in json.dumps(listed)
    text = runner.invoke(cli, ["keys", "list"]).output
    assert created["prefix"] + "..." in text
    assert created["key"] not in text

    updated = _json(runner, "update", created["id"], "--all-models", "--endpoints", "/v1/embeddings", "--team", "")
    assert updated["models"] == []  # type: ignore[index]
    assert updated["endpoints"] == ["/v1/embeddings"]  # type: ignore[index]
    assert updated["team"] is None  # type: ignore[index]

    rotated = _json(runner, "rotate", created["id"], "--grace", "1h")
    assert rotated["key"] != created["key"]  # type: ignore[index]
    assert rotated["previous_valid_until"] == pytest.approx(time.time() + 3600, abs=60)  # type: ignore[index]

    revoked = _json(runner, "revoke", created["id"])
    assert revoked["status"] == "revoked"  # type: ignore[index]
    shown = runner.invoke(cli, ["keys", "show", created["id"]])
    assert "revoked" in shown.output

    missing = runner.invoke(cli, ["keys", "show", "key_0000000000000000"])
    assert missing.exit_code == 1
    assert "no key has the id" in missing.output
    bad = runner.invoke(cli, ["keys", "create", "--name", "x", "--endpoints", "v1/chat"])
    assert bad.exit_code == 2
    assert "endpoints" in bad.output


def test_the_plain_create_prints_the_secret_once_with_a_warning(home: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--name", "laptop"])
    assert result.exit_code == 0
    secrets = [line for line in result.stdout.splitlines() if line.startswith("lr-") and "..." not in line]
    assert len(secrets) == 1
    assert "only time" in result.stderr


def test_expiry_forms() -> None:
    now = 1_000_000.0
    assert parse_expiry("12h", now) == now + 43200
    assert parse_expiry("never", now) is None
    assert parse_expiry("2027-01-01", now) == 1798761600.0
    assert parse_expiry("2027-01-01T00:00:00+01:00", now) == 1798758000.0


def test_non_loopback_without_keys_is_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    open_config = tmp_path / "open.yaml"
    open_config.write_text("host: 0.0.0.0\n")
    result = runner.invoke(cli, ["config", "check", str(open_config)])
    assert result.exit_code == 2
    assert "auth.mode: keys" in result.output
    assert "$.auth.mode" in result.output
    for ok in ("host: 0.0.0.0\nauth: {mode: keys}\n", "host: 0.0.0.0\nauth: {allow_unauthenticated: true}\n"):
        open_config.write_text(ok)
        assert runner.invoke(cli, ["config", "check", str(open_config)]).exit_code == 0
    loopback = tmp_path / "loopback.yaml"
    loopback.write_text("port: 9999\n")
    served = runner.invoke(cli, ["serve", "--config", str(loopback), "--host", "0.0.0.0"])
    assert served.exit_code == 2
    assert "auth.mode: keys" in served.output


def test_config_show_masks_the_admin_key_and_database_passwords(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "auth: {admin_key: admin-secret-0123456789, database: 'postgresql://lr:hunter2hunter2@db/keys'}\n"
    )
    out = CliRunner().invoke(cli, ["config", "show", "--config", str(config)]).output
    assert "admin-secret-0123456789" not in out
    assert "hunter2hunter2" not in out
    assert "postgresql://lr:****@db/keys" in out
