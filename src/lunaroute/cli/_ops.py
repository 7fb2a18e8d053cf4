"""`lunaroute reload` (make the running gateway re-read its config) and `lunaroute init` (write a config)."""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from lunaroute.cli._background import is_lunaroute, listener_pid
from lunaroute.config import Config, home_dir
from lunaroute.config._template import render_default_config

__all__ = ["init_command", "reload_gateway"]


def reload_gateway(config: Config, url: str) -> None:
    """Ask the gateway at `url` to reload: through `POST /admin/reload` when the config has an admin key (the
    answer says whether it took), else by SIGHUP to the process listening on the config's port (its log
    says). Exits 1 when no gateway can be reached or the reload was refused."""
    if config.auth.admin_key:
        _reload_over_http(url, config.auth.admin_key)
        return
    pid = listener_pid(config.host, config.port)
    if pid is None or not is_lunaroute(pid):
        click.echo(f"lunaroute: no gateway is listening on {url}", err=True)
        sys.exit(1)
    os.kill(pid, signal.SIGHUP)
    click.echo(
        f"sent SIGHUP to the gateway (pid {pid}); its log says whether the reload took "
        "(with auth.admin_key set, `lunaroute reload` waits for the answer instead)"
    )


def _reload_over_http(url: str, admin_key: str) -> None:
    request = urllib.request.Request(
        f"{url}/admin/reload", method="POST", headers={"authorization": f"Bearer {admin_key}"}, data=b""
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = json.loads(response.read())["reload"]
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = body.decode(errors="replace")[:500] or exc.reason
        click.echo(f"lunaroute: reload refused ({exc.code}): {message}", err=True)
        sys.exit(1)
    except (urllib.error.URLError, OSError) as exc:
        click.echo(f"lunaroute: no gateway answers on {url}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"reloaded: {status['source'] or 'the built-in defaults'} (reload {status['reloads']} since start)")


@click.command("init")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write (default $LUNAROUTE_HOME/config.yaml; `-`: standard output).",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def init_command(output: str | None, force: bool) -> None:
    """Write a commented config with every section at its default."""
    text = render_default_config()
    if output == "-":
        click.echo(text, nl=False)
        return
    path = Path(output).expanduser() if output else home_dir() / "config.yaml"
    if path.exists() and not force:
        click.echo(f"lunaroute: {path} exists; use --force to overwrite it", err=True)
        sys.exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")
