"""`lunaroute sessions list|show|export` and `lunaroute import-sessions`: recorded sessions from the shell.

Paths default to `$LUNAROUTE_HOME/sessions.db` and `$LUNAROUTE_HOME/sessions`; `--db` / `--sessions-dir`
override them (`--db postgresql://…` reads the PostgreSQL store that several replicas record into). Encrypted JSONL files are opened with the keys of `session_recording.encryption` in the config
(`--config`, else the one `serve` would load). Exit status: 0 on success, 1 when the store cannot be read, an
id is unknown or a JSONL file is encrypted with a key the config does not hold, 2 for bad arguments or a config
that does not load (click's own convention).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from lunaroute.config import home_dir, load_config, resolve_config_path
from lunaroute.errors import ConfigError
from lunaroute.recording._crypto import RecordCipher, RecordKeyError, reader_cipher
from lunaroute.recording.events import (
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    is_valid_session_id,
    utcnow,
)
from lunaroute.recording.query import (
    MAX_PAGE,
    SORT_KEYS,
    JsonlArchive,
    SessionDetail,
    SessionExport,
    SessionFilter,
    SessionStore,
    SessionSummary,
    SortKey,
    StoreUnavailable,
    events_jsonl,
    format_usd,
    import_jsonl,
    list_price,
    open_store,
    parse_when,
    requests_csv,
    sessions_csv,
    to_json,
)

__all__ = ["import_sessions_command", "sessions_group"]

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, utcnow())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _filter_options(fn: _F) -> _F:
    options = [
        click.option("--since", callback=_when, help="Sessions started at or after (24h, 7d, 2026-03-01, ISO)."),
        click.option("--until", callback=_when, help="Sessions started before (same forms as --since)."),
        click.option("--model", help="Requested, used, or any request's model."),
        click.option("--provider", help="Provider name (anthropic, openai, ...)."),
        click.option("--client", help="User agent; a trailing * matches a prefix (claude-cli/*)."),
        click.option("--success/--failed", default=None, help="Only sessions whose last request succeeded/failed."),
        click.option("--min-tokens", type=click.IntRange(min=0), help="At least this many tokens in total."),
        click.option("--search", help="Text in the recorded prompt or answer (case-insensitive)."),
        click.option("--key", help="Gateway key id or name (auth.mode: keys)."),
        click.option("--team", help="Gateway key team."),
        click.option("--tool", help="One of its requests called this tool."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


_db_option = click.option(
    "--db",
    "db",
    metavar="FILE|URL",
    help="Session database: a SQLite file, or the PostgreSQL store replicas record into (postgresql://…).",
)
_dir_option = click.option(
    "--sessions-dir", "sessions_dir", type=click.Path(file_okay=False, path_type=Path), help="JSONL session directory."
)
_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Config whose session_recording.encryption keys open encrypted JSONL files (default: the one serve loads).",
)


def _cipher(config_path: str | None) -> RecordCipher | None:
    """The reader cipher of the config (None without one or without keys); exit 2 if the config is broken."""
    path = resolve_config_path(config_path)
    if path is None:
        return None
    try:
        return reader_cipher(load_config(path).session_recording.encryption)
    except ConfigError as exc:
        click.echo(f"lunaroute: config error: {exc}", err=True)
        sys.exit(2)


def _archive(sessions_dir: Path | None, config_path: str | None) -> JsonlArchive:
    return JsonlArchive(sessions_dir or home_dir() / "sessions", cipher=_cipher(config_path))


def _raw_events(archive: JsonlArchive, session_id: str, started_at: dt.datetime | None) -> list[SessionEvent]:
    """The session's JSONL events; exit 1 with the reason when a file is encrypted with a key we lack."""
    try:
        return archive.events(session_id, started_at)
    except RecordKeyError as exc:
        click.echo(f"lunaroute: {exc}", err=True)
        sys.exit(1)


def _make_filter(kw: dict[str, Any]) -> SessionFilter:
    return SessionFilter(
        since=kw["since"],
        until=kw["until"],
        model=kw["model"],
        provider=kw["provider"],
        user_agent=kw["client"],
        success=kw["success"],
        min_tokens=kw["min_tokens"],
        search=kw["search"],
        key=kw["key"],
        team=kw["team"],
        tool=kw["tool"],
    )


def _run(db: str | None, work: Callable[[SessionStore], Any]) -> Any:
    """Run `work(store)` on the store `db` names (a SQLite file or a PostgreSQL URL; default the SQLite file under
    `$LUNAROUTE_HOME`); exit 1 if it is unreadable."""

    async def main() -> Any:
        store = open_store(db or home_dir() / "sessions.db", price=list_price)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except StoreUnavailable as exc:
        click.echo(f"lunaroute: {exc}", err=True)
        sys.exit(1)


def _ts(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _status(s: SessionSummary) -> str:
    """`ok`, `failed` (the last request), `open`, or `errors` when the last succeeded but an earlier one failed."""
    if s.success and s.failed_requests:
        return "errors"
    return "ok" if s.success else ("failed" if s.success is False else "open")


def _provider(s: SessionSummary) -> str:
    """The provider first chosen, and the one that answered after a fallback or retry."""
    return f"{s.provider} -> {s.fallback_provider} (fallback)" if s.fallback_provider else s.provider


@click.group("sessions")
def sessions_group() -> None:
    """List, show and export recorded sessions."""


@sessions_group.command("list")
@_filter_options
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--sort", type=click.Choice(SORT_KEYS), default="started", show_default=True, help="Order by.")
@click.option("--asc", is_flag=True, help="Smallest (or A to Z, or oldest) first.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@_db_option
def list_command(limit: int, offset: int, sort: SortKey, asc: bool, as_json: bool, db: str | None, **kw: Any) -> None:
    """Recorded sessions, newest first (or as --sort and --asc say)."""
    flt = _make_filter(kw)
    page = _run(db, lambda store: store.list_sessions(flt, offset=offset, limit=limit, sort=sort, descending=not asc))
    if as_json:
        click.echo(to_json(page))
        return
    if not page.sessions:
        click.echo("no sessions")
        return
    click.echo(
        f"{'STARTED (UTC)':19}  {'SESSION':36}  {'STATUS':6}  {'REQ':>4}  {'TOKENS':>10}  {'COST':>9}  MODEL / CLIENT"
    )
    for s in page.sessions:
        model = s.model_used or s.model_requested or "-"
        click.echo(
            f"{_ts(s.started_at):19}  {s.session_id[:36]:36}  {_status(s):6}  {s.request_count:>4}  "
            f"{s.total_tokens:>10}  {format_usd(s.cost_usd, '-'):>9}  {model} / {s.user_agent or '-'}"
            + (f" [fallback: {_provider(s)}]" if s.fallback_requests else "")
        )
    shown = f"{offset + 1}-{offset + len(page.sessions)}"
    click.echo(f"{shown} of {page.total}" + (f"; next page: --offset {offset + limit}" if page.has_more else ""))


def _detail_and_events(
    db: str | None, sessions_dir: Path | None, config_path: str | None, session_id: str
) -> tuple[SessionDetail, list[SessionEvent]]:
    if not is_valid_session_id(session_id):
        raise click.BadParameter("a session id is 1-255 characters of A-Z a-z 0-9 _ -", param_hint="SESSION_ID")
    detail = _run(db, lambda store: store.get_session(session_id))
    if detail is None:
        click.echo(f"lunaroute: no session {session_id!r}", err=True)
        sys.exit(1)
    return detail, _raw_events(_archive(sessions_dir, config_path), session_id, detail.summary.started_at)


def _texts(events: list[SessionEvent]) -> dict[str, tuple[str, str]]:
    """request_id → (prompt, answer) from the raw events."""
    out: dict[str, tuple[str, str]] = {}
    for ev in events:
        prompt, answer = out.get(ev.request_id, ("", ""))
        if isinstance(ev, RequestRecorded):
            prompt = ev.request_text or prompt
        elif isinstance(ev, ResponseRecorded):
            answer = ev.response_text or answer
        out[ev.request_id] = (prompt, answer)
    return out


def _indent(text: str, mark: str) -> str:
    lines = text.splitlines() or [""]
    return "\n".join(f"  {mark} {line}" for line in lines)


def _render(detail: SessionDetail, events: list[SessionEvent]) -> Iterator[str]:
    s, t = detail.summary, detail.summary.tokens
    yield f"Session {s.session_id}"
    yield f"  started    {_ts(s.started_at)}   completed {_ts(s.completed_at)}   duration {s.total_duration_ms or 0} ms"
    yield f"  provider   {_provider(s)} (listener {s.listener})   model {s.model_requested} -> {s.model_used or '-'}"
    yield f"  client     {s.user_agent or '-'}"
    yield f"  status     {_status(s)}" + (f": {s.error_message}" if s.error_message else "")
    notes = [f"{s.failed_requests} failed" if s.failed_requests else "", ""]
    if s.fallback_requests:
        notes[1] = f"{s.fallback_requests} answered after a fallback or retry"
    extra = ", ".join(n for n in notes if n)
    yield f"  requests   {s.request_count}" + (f" ({extra})" if extra else "")
    yield (
        f"  tokens     input {t.input}, output {t.output}, thinking {t.thinking}, reasoning {t.reasoning}, "
        f"cache read {t.cache_read}, cache write {t.cache_creation}; total {s.total_tokens}"
    )
    yield f"  cost       {format_usd(s.cost_usd)}"
    tools: dict[str, list[int]] = {}
    for tool in detail.tools:
        counts = tools.setdefault(tool.tool_name, [0, 0])
        counts[0] += tool.call_count
        counts[1] += tool.error_count
    listed = ", ".join(f"{name} x{c}" + (f" ({e} failed)" if e else "") for name, (c, e) in tools.items())
    yield f"  tools      {listed or '-'}"
    texts = _texts(events)
    order = list(dict.fromkeys([*(r.request_id for r in detail.requests if r.request_id), *texts]))
    by_id = {r.request_id: r for r in detail.requests}
    for n, rid in enumerate(order, 1):
        row = by_id.get(rid)
        head = f"{row.model_name}, {row.total_tokens} tokens" if row else "no stats recorded"
        if row is not None and row.provider:
            head += f", {row.provider}"
        if row is not None and row.success is False:
            head += ", failed"
        prompt, answer = texts.get(rid, ("", ""))
        yield ""
        yield f"Request {n}  {rid}  ({head})"
        if row is not None and row.attempts:
            yield f"  attempts   {', '.join(a.describe() for a in row.attempts)}, then {row.provider or '?'} answered"
        yield _indent(prompt or "(no plain-text prompt recorded)", ">")
        yield _indent(answer or "(no answer text recorded)", "<")
    if not order and (detail.request_text or detail.response_text):
        yield ""
        yield _indent(detail.request_text or "", ">")
        yield _indent(detail.response_text or "", "<")


@sessions_group.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Print the session and its raw events as JSON.")
@_db_option
@_dir_option
@_config_option
def show_command(
    session_id: str, as_json: bool, db: str | None, sessions_dir: Path | None, config_path: str | None
) -> None:
    """One session: summary, tokens, cost, tools, then each request's prompt and answer."""
    detail, events = _detail_and_events(db, sessions_dir, config_path, session_id)
    if as_json:
        click.echo(to_json(SessionExport(session=detail, events=tuple(events))))
        return
    for line in _render(detail, events):
        click.echo(line)


async def _all_sessions(store: SessionStore, flt: SessionFilter) -> list[SessionSummary]:
    out: list[SessionSummary] = []
    while True:
        page = await store.list_sessions(flt, offset=len(out), limit=MAX_PAGE)
        out.extend(page.sessions)
        if not page.sessions or not page.has_more:
            return out


@sessions_group.command("export")
@click.argument("session_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Output file (default stdout).")
@_filter_options
@_db_option
@_dir_option
@_config_option
def export_command(
    session_id: str | None,
    fmt: str,
    output: Any,
    db: str | None,
    sessions_dir: Path | None,
    config_path: str | None,
    **kw: Any,
) -> None:
    """Export one session (SESSION_ID) or every session matching the filters.

    jsonl: the raw recorded events; json: the stored view (with the events for one session); csv: one row
    per request (one session) or per session (a list).
    """
    if session_id is not None:
        detail, events = _detail_and_events(db, sessions_dir, config_path, session_id)
        if fmt == "jsonl":
            output.writelines(events_jsonl(events))
        elif fmt == "json":
            output.write(to_json(SessionExport(session=detail, events=tuple(events))) + b"\n")
        else:
            output.writelines(line.encode() for line in requests_csv(session_id, detail.requests))
        return
    flt = _make_filter(kw)
    sessions: list[SessionSummary] = _run(db, lambda store: _all_sessions(store, flt))
    if fmt == "jsonl":
        archive = _archive(sessions_dir, config_path)
        for s in sessions:
            output.writelines(events_jsonl(_raw_events(archive, s.session_id, s.started_at)))
    elif fmt == "json":
        output.write(msgspec.json.encode(sessions) + b"\n")
    else:
        output.writelines(line.encode() for line in sessions_csv(sessions))


@click.command("import-sessions")
@click.option("--sessions-dir", type=click.Path(file_okay=False, path_type=Path), help="JSONL session directory.")
@click.option("--db-path", type=click.Path(dir_okay=False, path_type=Path), help="SQLite database to write.")
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=10, show_default=True, help="Sessions per transaction."
)
@click.option("--skip-existing/--no-skip-existing", default=True, show_default=True)
@click.option("--continue-on-error/--stop-on-error", default=True, show_default=True)
@click.option("--dry-run", is_flag=True, help="Read and count, write nothing.")
@_config_option
def import_sessions_command(
    sessions_dir: Path | None,
    db_path: Path | None,
    batch_size: int,
    skip_existing: bool,
    continue_on_error: bool,
    dry_run: bool,
    config_path: str | None,
) -> None:
    """Import recorded JSONL sessions into the SQLite session database (safe to run again)."""
    source = sessions_dir or home_dir() / "sessions"
    target = db_path or home_dir() / "sessions.db"
    if not source.is_dir():
        click.echo(f"lunaroute: no session directory at {source}", err=True)
        sys.exit(1)
    report = asyncio.run(
        import_jsonl(
            source,
            target,
            batch_size=batch_size,
            skip_existing=skip_existing,
            continue_on_error=continue_on_error,
            dry_run=dry_run,
            cipher=_cipher(config_path),
        )
    )
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{report.sessions_found} sessions in {report.files} files: {verb} {report.sessions_imported} "
        f"({report.events} events), skipped {report.sessions_skipped} already in {target}, "
        f"{len(report.failures)} failed, {report.bad_lines} unreadable lines skipped"
    )
    for path in report.invalid_names:
        click.echo(f"  skipped (not a session id): {path}", err=True)
    for sid, reason in report.failures:
        click.echo(f"  failed {sid}: {reason}", err=True)
    if report.failures:
        sys.exit(1)
