"""`lunaroute` commands: serve (the default), env, stop, reload, init, config check|show."""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path

import click

from lunaroute import __version__
from lunaroute.cli._background import (
    abandon,
    describe_port_owner,
    log_file_for,
    log_tail,
    pid_file_for,
    running_pid,
    start_detached,
    started_before_change,
    stop_server,
    wait_healthy,
    wait_started,
)
from lunaroute.cli._keys import keys_group
from lunaroute.cli._ops import init_command
from lunaroute.cli._sessions import import_sessions_command, sessions_group
from lunaroute.cli._show import render_effective_config
from lunaroute.cli._ui import ui_command
from lunaroute.config import (
    Config,
    check_exposure,
    check_workers,
    config_warnings,
    load_config,
    read_document,
    resolve_config_path,
    rust_differences,
    server_key_sources,
)
from lunaroute.errors import ConfigError

__all__ = ["main"]

_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config file (YAML, TOML or JSON)."
)


def _load(
    config_path: str | None, host: str | None = None, port: int | None = None, workers: int | None = None
) -> Config:
    try:
        config = load_config(resolve_config_path(config_path))
    except ConfigError as exc:
        click.echo(f"lunaroute: config error: {exc}", err=True)
        sys.exit(2)
    if host is not None:
        config.host = host
        try:
            check_exposure(config, "--host")
        except ConfigError as exc:
            click.echo(f"lunaroute: config error: {exc}", err=True)
            sys.exit(2)
    if port is not None:
        config.port = port
    if workers is not None:
        config.workers = workers
        try:
            check_workers(config, "--workers")
        except ConfigError as exc:
            click.echo(f"lunaroute: config error: {exc}", err=True)
            sys.exit(2)
    return config


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_config_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8081).")
@click.version_option(__version__, prog_name="lunaroute")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, host: str | None, port: int | None) -> None:
    """LunaRoute: an LLM gateway for the OpenAI and Anthropic APIs. With no command, `serve`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve, config_path=config_path, host=host, port=port)


@cli.command()
@_config_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8081).")
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes accepting on the port (default: `workers:`, 1)."
)
@click.option("--pid-file", type=click.Path(dir_okay=False), hidden=True)
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    workers: int | None = None,
    pid_file: str | None = None,
) -> None:
    """Run the gateway in the foreground until SIGINT/SIGTERM."""
    from lunaroute.observability import configure_logging
    from lunaroute.server import ConfigSource, run

    config = _load(config_path, host, port, workers)
    configure_logging(config.logging.level, config.logging.format)
    _say_server_keys(config)
    source = ConfigSource(resolve_config_path(config_path), host=host, port=port)
    try:
        run(config, pid_file=Path(pid_file) if pid_file else None, source=source)
    except OSError as exc:
        where = f"{config.host}:{config.port}"
        if exc.errno == errno.EADDRINUSE:
            owner = describe_port_owner(config.host, config.port)
            click.echo(
                f"lunaroute: port {config.port} ({where}) is already in use by {owner}; "
                "stop it (`lunaroute stop`, or kill the pid) or choose another --port",
                err=True,
            )
        else:
            click.echo(f"lunaroute: cannot listen on {where}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except ConfigError as exc:
        click.echo(f"lunaroute: {exc}", err=True)
        sys.exit(2)


CODEX_SNIPPET = """\
model_provider = "lunaroute"

[model_providers.lunaroute]
name = "LunaRoute"
base_url = "{url}/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
"""
"""The `~/.codex/config.toml` lines that point Codex at the gateway (Codex does not read `OPENAI_BASE_URL`)."""


@cli.command()
@_config_option
@click.option("--host", help="Address of the gateway (default from the config, 127.0.0.1).")
@click.option("--port", type=int, help="Port of the gateway (default from the config, 8081).")
@click.option("--restart", is_flag=True, help="Stop the gateway `env` started on that address, then start it again.")
def env(config_path: str | None, host: str | None, port: int | None, restart: bool) -> None:
    """Start the gateway in the background if needed and print `export` lines for the clients.

    Use as: eval "$(lunaroute env)". The Codex config.toml lines go to stderr (Codex ignores the variables).
    """
    config = _load(config_path, host, port)
    url = f"http://{_url_host(config.host)}:{config.port}"
    pid_file = pid_file_for(config.host, config.port)
    if restart and running_pid(pid_file) is not None:
        message, ok = stop_server(pid_file)
        if not ok:
            click.echo(f"lunaroute: {message}", err=True)
            sys.exit(1)
    if wait_healthy(url, timeout=0.5):
        location = resolve_config_path(config_path)
        _note_old_config(pid_file, location if isinstance(location, Path) else None)
    else:
        _start(config_path, config, url, pid_file)
    click.echo(f"export ANTHROPIC_BASE_URL={url}")
    click.echo(f"export OPENAI_BASE_URL={url}/v1")
    click.echo(f"# LunaRoute is running on {url}; stop it with: lunaroute stop", err=True)
    click.echo("# Codex reads its provider from ~/.codex/config.toml, not from OPENAI_BASE_URL; add:", err=True)
    for line in CODEX_SNIPPET.format(url=url).splitlines():
        click.echo(f"#   {line}" if line else "#", err=True)


def _start(config_path: str | None, config: Config, url: str, pid_file: Path) -> None:
    """Start the detached gateway and wait for it; exit 1 (leaving no process behind) if it does not come up."""
    child = start_detached(config_path, config.host, config.port)
    if wait_started(url, child, timeout=15.0):
        return
    code = child.poll()
    abandon(child, pid_file)
    log = log_file_for(config.host, config.port)
    why = f"it exited with status {code}" if code is not None else "it did not answer within 15 s and was stopped"
    click.echo(f"lunaroute: the gateway did not start on {url}: {why} (log: {log})", err=True)
    for line in log_tail(log):
        click.echo(f"  {line}", err=True)
    sys.exit(1)


def _note_old_config(pid_file: Path, config_path: Path | None) -> None:
    """Say so when the running gateway started before its config file last changed."""
    pid = running_pid(pid_file)
    if pid is not None and started_before_change(pid_file, config_path):
        click.echo(
            f"# The running gateway (pid {pid}) started before {config_path} changed and still uses the old "
            "config; run `lunaroute env --restart` to use the new one.",
            err=True,
        )


@cli.command()
@_config_option
@click.option("--host", help="Address of the gateway (default from the config).")
@click.option("--port", type=int, help="Port of the gateway (default from the config).")
def stop(config_path: str | None, host: str | None, port: int | None) -> None:
    """Stop a gateway started by `lunaroute env` (found by its pid file)."""
    config = _load(config_path, host, port)
    message, ok = stop_server(pid_file_for(config.host, config.port))
    click.echo(message, err=not ok)
    if not ok:
        sys.exit(1)


@cli.command()
@_config_option
@click.option("--host", help="Address of the gateway (default from the config).")
@click.option("--port", type=int, help="Port of the gateway (default from the config).")
def reload(config_path: str | None, host: str | None, port: int | None) -> None:
    """Make the running gateway re-read its config file.

    The file is checked here first (exit 2 with the key and reason if invalid). With `auth.admin_key` set the
    gateway is asked through `POST /admin/reload` and its answer printed (exit 1 if it refused); otherwise the
    process listening on the config's port gets SIGHUP."""
    from lunaroute.cli._ops import reload_gateway

    config = _load(config_path, host, port)
    reload_gateway(config, f"http://{_url_host(config.host)}:{config.port}")


@cli.command()
@_config_option
@click.option("--model", required=True, help="The model the request asks for.")
@click.option("--header", multiple=True, help="A request header NAME=VALUE (repeatable).")
@click.option("--dialect", type=click.Choice(["anthropic", "openai"]), default="anthropic", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def route(config_path: str | None, model: str, header: tuple[str, ...], dialect: str, as_json: bool) -> None:
    """Show which providers would serve a request (a dry run of the router; nothing is sent)."""
    from lunaroute.cli._route import print_route

    print_route(_load(config_path), model, header, dialect, as_json)  # type: ignore[arg-type]


@cli.group()
def config() -> None:
    """Check or show the configuration."""


@config.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def config_check(file: str | None) -> None:
    """Validate FILE (default: the config `serve` would load); exit 2 with the key and reason if invalid.

    After `ok`, each key the file sets whose meaning here differs from the Rust LunaRoute's is listed."""
    try:
        path = resolve_config_path(file)
        loaded = load_config(path)
        raw = read_document(path) if path is not None else None
    except ConfigError as exc:
        click.echo(f"invalid: {exc}", err=True)
        sys.exit(2)
    for warning in config_warnings(loaded):
        click.echo(f"warning: {path or '<defaults>'}, at {warning}", err=True)
    click.echo(f"ok: {path}" if path else "ok: no config file; the built-in defaults apply")
    differences = rust_differences(raw) if isinstance(raw, dict) else []
    if differences:
        click.echo("keys whose meaning differs from the Rust LunaRoute:")
        for key, note in differences:
            click.echo(f"  {key}: {note}")


@config.command("show")
@_config_option
def config_show(config_path: str | None) -> None:
    """Print the effective configuration as YAML, secrets masked."""
    click.echo(render_effective_config(_load(config_path)), nl=False)


cli.add_command(sessions_group, "sessions")
cli.add_command(keys_group, "keys")
cli.add_command(import_sessions_command, "import-sessions")
cli.add_command(init_command, "init")
cli.add_command(ui_command, "ui")


def _say_server_keys(config: Config) -> None:
    """One line when a provider key comes from OPENAI_API_KEY / ANTHROPIC_API_KEY: as in the Rust LunaRoute that
    switches the provider to server-key mode, and a shell that runs Claude Code or Codex often has it set."""
    used = [(var, name) for var, name in server_key_sources() if config.providers[name].enabled]
    if used:
        logging.getLogger("lunaroute.server").warning(
            "server-key mode: %s; clients' own credentials are replaced for these providers",
            ", ".join(f"provider {name} uses {var} from the environment" for var, name in used),
        )


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def main() -> None:
    cli(prog_name="lunaroute")
