"""`lunaroute sessions list|show|export` and `import-sessions`, run in process with click's CliRunner."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.recording.query._seed import now_utc, seed, standard_specs

from lunaroute.cli._sessions import import_sessions_command, sessions_group
from lunaroute.recording.codec import decode_event
from lunaroute.recording.query import SessionFilter, SqliteSessionStore, format_usd, list_price


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    asyncio.run(seed(home / "sessions.db", home / "sessions", standard_specs(now_utc())))
    return home


def run(home: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(sessions_group, list(args), env={"LUNAROUTE_HOME": str(home)}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_list_table_and_json(home: Path) -> None:
    code, out, _ = run(home, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("STARTED")
    assert [line.split()[2] for line in lines[1:5]] == ["sess-b", "sess-fail", "sess-a", "sess-old"]
    assert lines[-1] == "1-4 of 4"
    code, out, _ = run(home, "list", "--json", "--limit", "2")
    page = json.loads(out)
    assert [s["session_id"] for s in page["sessions"]] == ["sess-b", "sess-fail"]
    assert page["total"] == 4
    code, out, _ = run(home, "list", "--limit", "2", "--offset", "2")
    assert "3-4 of 4" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "6h"], ["sess-b", "sess-fail", "sess-a"]),
        (["--until", "1h"], ["sess-fail", "sess-a", "sess-old"]),
        (["--model", "gpt-4o"], ["sess-old"]),
        (["--provider", "openai"], ["sess-old"]),
        (["--client", "claude-cli/*"], ["sess-b", "sess-fail", "sess-a"]),
        (["--failed"], ["sess-fail"]),
        (["--success"], ["sess-b", "sess-a", "sess-old"]),
        (["--min-tokens", "2000"], ["sess-fail", "sess-a"]),
        (["--search", "recursion"], ["sess-a"]),
        (["--search", "' OR '1'='1"], []),
        (["--model", "x' UNION SELECT 1 --"], []),
    ],
)
def test_list_filters(home: Path, args: list[str], expected: list[str]) -> None:
    code, out, _ = run(home, "list", "--json", *args)
    assert code == 0
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == expected


def test_list_bad_arguments(home: Path) -> None:
    assert run(home, "list", "--since", "yesterday")[0] == 2
    assert run(home, "list", "--limit", "0")[0] == 2
    code, _, err = run(home, "list", "--db", str(home / "missing.db"))
    assert code == 1
    assert "no session database" in err


def test_show(home: Path) -> None:
    code, out, _ = run(home, "show", "sess-fail")
    assert code == 0
    assert "Session sess-fail" in out
    assert "status     failed: upstream 529 overloaded" in out
    assert "requests   2" in out
    assert "Bash x2 (2 failed)" in out
    assert "Request 2  sess-fail-req1" in out
    assert "  > =cmd|' /C calc'!A0 #1" in out
    assert "  < <script>alert(1)</script> #1" in out
    code, out, _ = run(home, "show", "sess-a", "--json")
    data = json.loads(out)
    assert data["session"]["summary"]["request_count"] == 3
    assert len(data["events"]) == 21


def test_show_unknown_and_invalid_ids(home: Path) -> None:
    code, _, err = run(home, "show", "nope")
    assert code == 1
    assert "no session" in err
    for evil in ("../../etc/passwd", "a\x00b", "x" * 10_240):
        assert run(home, "show", evil)[0] == 2


def test_export_one_session(home: Path, tmp_path: Path) -> None:
    code, out, _ = run(home, "export", "sess-a")
    assert code == 0
    events = [decode_event(line) for line in out.encode().splitlines()]
    assert len(events) == 21
    assert {e.session_id for e in events} == {"sess-a"}
    target = tmp_path / "a.json"
    assert run(home, "export", "sess-a", "--format", "json", "--output", str(target))[0] == 0
    assert json.loads(target.read_text())["session"]["summary"]["session_id"] == "sess-a"
    code, out, _ = run(home, "export", "sess-fail", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:2] == ["session_id", "request_id"]
    assert len(rows) == 3


def test_export_filtered_list(home: Path) -> None:
    _code, out, _ = run(home, "export", "--format", "csv", "--client", "claude-cli/*")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["session_id"] for r in rows] == ["sess-b", "sess-fail", "sess-a"]
    _code, out, _ = run(home, "export", "--format", "json", "--failed")
    assert [s["session_id"] for s in json.loads(out)] == ["sess-fail"]
    _code, out, _ = run(home, "export", "--provider", "openai")
    assert {decode_event(line).session_id for line in out.encode().splitlines()} == {"sess-old"}


def test_import_sessions_twice_is_idempotent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    asyncio.run(seed(None, home / "sessions", standard_specs(now_utc())))
    runner = CliRunner()
    env = {"LUNAROUTE_HOME": str(home)}
    dry = runner.invoke(import_sessions_command, ["--dry-run"], env=env)
    assert dry.exit_code == 0
    assert "would import 4" in dry.stdout
    assert not (home / "sessions.db").exists()
    first = runner.invoke(import_sessions_command, ["--batch-size", "3"], env=env)
    assert first.exit_code == 0
    assert "imported 4" in first.stdout
    assert "skipped 0" in first.stdout
    second = runner.invoke(import_sessions_command, [], env=env)
    assert second.exit_code == 0
    assert "imported 0" in second.stdout
    assert "skipped 4" in second.stdout
    _code, out, _ = run(home, "list", "--json")
    assert json.loads(out)["total"] == 4
    forced = runner.invoke(import_sessions_command, ["--no-skip-existing", "--stop-on-error"], env=env)
    assert forced.exit_code == 0
    assert "imported 4" in forced.stdout
    _code, out, _ = run(home, "show", "sess-a", "--json")
    assert json.loads(out)["session"]["summary"]["request_count"] == 3


def test_import_sessions_explicit_paths_and_missing_dir(tmp_path: Path) -> None:
    src, db = tmp_path / "src", tmp_path / "out" / "s.db"
    asyncio.run(seed(None, src, standard_specs(now_utc())))
    runner = CliRunner()
    ok = runner.invoke(import_sessions_command, ["--sessions-dir", str(src), "--db-path", str(db)])
    assert ok.exit_code == 0
    assert db.exists()
    missing = runner.invoke(import_sessions_command, ["--sessions-dir", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "no session directory" in missing.stderr


def test_cost_is_shown_as_the_ui_prices_it(home: Path) -> None:
    async def ui_costs() -> dict[str, float | None]:
        store = SqliteSessionStore(home / "sessions.db", price=list_price)
        try:
            page = await store.list_sessions(SessionFilter(), limit=10)
        finally:
            await store.close()
        return {s.session_id: s.cost_usd for s in page.sessions}

    expected = asyncio.run(ui_costs())
    assert expected["sess-a"] is not None
    assert expected["sess-a"] > 0
    _code, out, _ = run(home, "list", "--json")
    assert {s["session_id"]: s["cost_usd"] for s in json.loads(out)["sessions"]} == expected
    _code, out, _ = run(home, "show", "sess-a")
    assert f"  cost       {format_usd(expected['sess-a'])}" in out
    assert "n/a" not in out
    _code, out, _ = run(home, "list")
    assert format_usd(expected["sess-a"]) in next(line for line in out.splitlines() if "sess-a" in line)
    _code, out, _ = run(home, "export", "--format", "csv")
    rows = {r["session_id"]: r["cost_usd"] for r in csv.DictReader(io.StringIO(out))}
    assert float(rows["sess-a"]) == pytest.approx(expected["sess-a"])


def test_format_usd_never_prints_a_positive_cost_as_zero() -> None:
    assert format_usd(0.00001) == "<$0.0001"
    assert format_usd(0.0042) == "$0.0042"
    assert format_usd(1.234) == "$1.23"
    assert format_usd(0.0) == "$0.00"
    assert format_usd(None) == "n/a"


def test_list_sorted_by_a_column(home: Path) -> None:
    _code, out, _ = run(home, "list", "--json", "--sort", "session", "--asc")
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["sess-a", "sess-b", "sess-fail", "sess-old"]
    _code, out, _ = run(home, "list", "--json", "--sort", "status", "--asc")
    assert json.loads(out)["sessions"][0]["session_id"] == "sess-fail"
    _code, out, _ = run(home, "list", "--json", "--sort", "started", "--asc")
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["sess-old", "sess-a", "sess-fail", "sess-b"]
    assert run(home, "list", "--sort", "cost")[0] == 2
