"""Time the web pages and the dashboard's API calls on a large session database (a script, not a test).

    python tests/ui/bench_pages.py /tmp/big.db [--requests 500000] [--no-seed] [--repeat 5]

Seeds the database with `tests/recording/query/seed_large.py` unless `--no-seed`, serves it with the real
UI application (`build_ui_app`) on a loopback port, then requests each page and each API call the dashboard
makes, one at a time, `--repeat` times, and prints the median and minimum. "dashboard poll" is one
poll of the dashboard as its script makes it: the window's calls concurrently, every 5 s; on the first
poll and every 30 s then also the slow calls (all-time tools, per-client usage) concurrently.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.recording.query.seed_large import seed_large

from lunaroute.config import Config, config_from_mapping
from lunaroute.ui import build_ui_app

TARGET_MS = 300.0
WINDOWS = {"hour": 1, "day": 24, "week": 168, "month": 720}


def dashboard_calls(hours: int) -> list[str]:
    """The API calls every dashboard poll makes for a window."""
    return [
        f"/api/stats/overview?hours={hours}",
        f"/api/stats/spending?hours={hours}",
        f"/api/stats/models?hours={hours}",
        "/api/sessions/recent?limit=8",
    ]


def slow_calls(hours: int) -> list[str]:
    """The calls the dashboard makes on its first poll and then every 30 s."""
    return ["/api/stats/tools?limit=8", f"/api/stats/clients?hours={hours}&limit=6"]


async def timed(session: aiohttp.ClientSession, url: str) -> float:
    t0 = time.perf_counter()
    async with session.get(url) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}")
    return (time.perf_counter() - t0) * 1000


async def refresh(session: aiohttp.ClientSession, base: str, hours: int, *, full: bool) -> float:
    """One dashboard poll: its calls concurrently; when `full` (the first poll, then every 30 s), then the
    slow calls concurrently."""
    t0 = time.perf_counter()
    await asyncio.gather(*(timed(session, base + path) for path in dashboard_calls(hours)))
    if full:
        await asyncio.gather(*(timed(session, base + path) for path in slow_calls(hours)))
    return (time.perf_counter() - t0) * 1000


def report(name: str, times: list[float]) -> None:
    median = statistics.median(times)
    flag = "" if median < TARGET_MS else f"   over {TARGET_MS:.0f} ms"
    print(f"{name:58} median {median:8.1f} ms   min {min(times):8.1f} ms{flag}")


async def run(db: Path, repeat: int) -> None:
    config = config_from_mapping(
        {"session_recording": {"enabled": True, "sqlite": {"path": str(db)}, "jsonl": {"enabled": False}}}, env={}
    )
    await time_ui(config, repeat)


async def time_ui(config: Config, repeat: int) -> None:
    """Serve `config`'s UI on a loopback port and time every page and dashboard call on it."""
    runner = web.AppRunner(build_ui_app(config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    cases = {
        "page /sessions": "/sessions",
        "page /sessions (offset 5000)": "/sessions?offset=5000",
        "page /sessions?model=gpt-5": "/sessions?model=gpt-5",
        "page /sessions?since=24h&provider=openai": "/sessions?since=24h&provider=openai",
        "page /sessions?success=false": "/sessions?success=false",
        "page /sessions?q=parser": "/sessions?q=parser",
        "page /sessions/{id}": "/sessions/sess-00000042",
        "page / (dashboard frame)": "/",
    }
    for hours in WINDOWS.values():
        for path in dashboard_calls(hours) + slow_calls(hours):
            cases.setdefault(f"api {path}", path)
        ua = quote("codex_cli_rs/0.46.0", safe="")
        cases[f"api /api/stats/models?hours={hours}&user_agent=codex_cli_rs/0.46.0"] = (
            f"/api/stats/models?hours={hours}&user_agent={ua}"
        )
    cases["api /api/stats/costs (once a minute)"] = "/api/stats/costs"
    cases["api /api/user-agents (sessions page filter)"] = "/api/user-agents"
    cases["api /api/models (sessions page filter)"] = "/api/models"
    try:
        async with aiohttp.ClientSession() as session:
            await timed(session, base + "/sessions")  # open the read connections
            for name, path in cases.items():
                report(name, [await timed(session, base + path) for _ in range(repeat)])
            for window, hours in WINDOWS.items():
                for full in (False, True):
                    name = f"dashboard poll, {window}" + (" (first, then every 30 s)" if full else " (every 5 s)")
                    report(name, [await refresh(session, base, hours, full=full) for _ in range(repeat)])
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", type=Path)
    parser.add_argument("--requests", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-seed", action="store_true", help="use an existing database")
    args = parser.parse_args()
    if not args.no_seed:
        if args.db.exists():
            parser.error(f"{args.db} exists; remove it or pass --no-seed")
        t0 = time.perf_counter()
        seed_large(args.db, args.requests)
        print(f"seeded {args.requests} requests in {time.perf_counter() - t0:.1f} s -> {args.db}")
    asyncio.run(run(args.db, args.repeat))


if __name__ == "__main__":
    main()
