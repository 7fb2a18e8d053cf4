"""`lunaroute init`: a commented config of every section at its default, which loads back to the defaults."""

from __future__ import annotations

from pathlib import Path

import msgspec
from click.testing import CliRunner

from lunaroute.cli._main import cli
from lunaroute.config import Config, load_config


def test_init_writes_every_section_at_its_default(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "lunaroute.yaml"
    result = CliRunner().invoke(cli, ["init", "--output", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    for section in msgspec.structs.fields(Config):
        assert f"\n{section.name}:" in text, section.name
    # Comments come from the schema's docstrings, e.g. the one under `reload.watch`.
    assert "# Watch the config file" in text
    assert load_config(target, {}) == load_config(None, {})
    checked = CliRunner().invoke(cli, ["config", "check", str(target)])
    assert checked.exit_code == 0, checked.output


def test_init_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "lunaroute.yaml"
    target.write_text("port: 9000\n")
    result = CliRunner().invoke(cli, ["init", "--output", str(target)])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert target.read_text() == "port: 9000\n"
    result = CliRunner().invoke(cli, ["init", "--output", str(target), "--force"])
    assert result.exit_code == 0
    assert "reload:" in target.read_text()


def test_init_to_standard_output_and_to_the_home_directory(tmp_path: Path) -> None:
    printed = CliRunner().invoke(cli, ["init", "--output", "-"])
    assert printed.exit_code == 0
    assert printed.output.startswith("# LunaRoute configuration")
    home = tmp_path / "home"
    written = CliRunner(env={"LUNAROUTE_HOME": str(home)}).invoke(cli, ["init"])
    assert written.exit_code == 0, written.output
    assert (home / "config.yaml").read_text() == printed.output
