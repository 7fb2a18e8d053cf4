"""`lunaroute ui`: serve the session UI and its `/api/...` alone, over SQLite or the replicas' PostgreSQL store."""

from __future__ import annotations

import errno
import sys

import click

from lunaroute.config import is_loopback, load_config, resolve_config_path
from lunaroute.errors import ConfigError
from lunaroute.recording.query import is_postgres_url

__all__ = ["ui_command"]


@click.command("ui")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (YAML, TOML or JSON).")
@click.option("--host", help="Address to listen on (default ui.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default ui.port, 8082).")
@click.option(
    "--db",
    "db",
    metavar="FILE|URL",
    help="Session database to read: a SQLite file or a postgresql:// URL (default ui.database).",
)
def ui_command(config_path: str | None, host: str | None, port: int | None, db: str | None) -> None:
    """Serve the UI (web pages and session API) without a gateway, until SIGINT/SIGTERM.

    For N gateway replicas recording into one PostgreSQL database: run this once with
    `--db postgresql://…` (or `ui.database: postgres`) for one place to look at all of them."""
    from lunaroute.observability import configure_logging
    from lunaroute.ui._standalone import run_ui

    try:
        config = load_config(resolve_config_path(config_path))
    except ConfigError as exc:
        click.echo(f"lunaroute: config error: {exc}", err=True)
        sys.exit(2)
    ui = config.ui
    ui.host = host if host is not None else ui.host
    ui.port = port if port is not None else ui.port
    if db is not None and is_postgres_url(db):
        ui.database = db
    elif db is not None:
        ui.database = "sqlite"
        config.session_recording.sqlite.path = db
    if not 0 < ui.port < 65536:
        raise click.BadParameter("must be between 1 and 65535", param_hint="--port")
    if not is_loopback(ui.host) and not ui.auth_token:
        click.echo(f"lunaroute: the UI would listen on {ui.host}, beyond this machine: set ui.auth_token", err=True)
        sys.exit(2)
    configure_logging(config.logging.level, config.logging.format)
    try:
        run_ui(config)
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        click.echo(f"lunaroute: cannot listen on {ui.host}:{ui.port}: {reason}", err=True)
        sys.exit(1)
