"""Load benchmark: direct to a fast upstream, through a bare aiohttp proxy, and through the gateway.

Usage: `python bench/run.py [--quick] [--duration S] [--target direct|bare|gateway] [--workers N]` (see
bench/README.md).
Prints a Markdown report and writes it to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from _load import Loader, LoadResult
from _payloads import chat_request
from _procs import Procs, core_busy_seconds, cpu_seconds, free_port, machine_busy, pinned, rss_kib, wait_http, wait_port
from _report import SCENARIOS, TARGETS, Meta, Results, Scenario, floor_rows, render
from _tools import ensure_tool
from _ttfb import measure_ttfb
from _upstreams import aiohttp_upstream_argv, nginx_argv, write_nginx_conf
from _workers import measure_workers, render_workers

BENCH_DIR = Path(__file__).resolve().parent
PROXY_CORE, LOAD_CORE = 0, 1
_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Options:
    seconds: float
    warmup_seconds: float
    passes: int
    targets: tuple[str, ...]
    rss_requests: int
    ttfb_requests: int
    ttfb_pause_ms: float
    upstream: str
    output: Path
    wait_quiet: float
    revision: str | None
    workers: int


def _parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a ~1-minute smoke run")
    parser.add_argument("--target", choices=TARGETS, help="bench only this row")
    parser.add_argument("--passes", type=int, default=1, help="repeat every run; report the median (default 1)")
    parser.add_argument("--rss-requests", type=int, help="requests before reading RSS (default 100000)")
    parser.add_argument("--ttfb-requests", type=int, default=300, help="TTFB samples per target (≥ 200)")
    parser.add_argument("--ttfb-pause-ms", type=float, default=20.0, help="upstream pause after the 1st event")
    parser.add_argument("--upstream", choices=("auto", "nginx", "aiohttp"), default="auto")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "latest.md")
    parser.add_argument(
        "--revision", help="bench this committed revision of src/ (default: the working tree as installed)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="with N > 1: only the gateway, with 1 and with N worker processes, and the expected ceiling",
    )
    parser.add_argument(
        "--wait-quiet", type=float, default=60.0, help="wait up to S seconds for an idle machine first (default 60)"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Options(
        seconds=args.duration or (3.0 if quick else 10.0),
        warmup_seconds=1.0 if quick else 2.0,
        passes=max(1, args.passes),
        targets=(args.target,) if args.target else TARGETS,
        rss_requests=args.rss_requests if args.rss_requests is not None else (30_000 if quick else 100_000),
        ttfb_requests=max(200, args.ttfb_requests),
        ttfb_pause_ms=args.ttfb_pause_ms,
        upstream=args.upstream,
        output=args.output,
        wait_quiet=max(0.0, args.wait_quiet),
        revision=args.revision,
        workers=max(1, args.workers),
    )


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(BENCH_DIR), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _describe(revision: str | None) -> str:
    if revision is not None:
        return _git("rev-parse", "--short", revision) or revision
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (working tree, with uncommitted changes)" if _git("status", "--porcelain", "--", "src") else ""
    return head + dirty


def _gateway_env(work: Path, revision: str | None) -> dict[str, str]:
    """PYTHONPATH for the gateway: a snapshot of src/ taken now (edits made during the run cannot reach it),
    from the working tree, or from `revision` read with git archive."""
    snapshot = work / "src-snapshot"
    if revision is None:
        shutil.copytree(BENCH_DIR.parent / "src", snapshot / "src", ignore=shutil.ignore_patterns("__pycache__"))
        return {"PYTHONPATH": str(snapshot / "src")}
    snapshot.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(BENCH_DIR.parent), "archive", "--format=tar", revision, "src"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive.stdout, check=True)
    return {"PYTHONPATH": str(snapshot / "src")}


def _gateway_config(directory: Path, upstream_port: int, name: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(
        "providers:\n"
        f'  openai: {{base_url: "http://127.0.0.1:{upstream_port}/v1"}}\n'
        f'  anthropic: {{base_url: "http://127.0.0.1:{upstream_port}"}}\n'
        "http_server: {sse_keepalive_enabled: true}\n"
        "session_recording: {enabled: false}\n"
    )
    return path


def _start_gateway(procs: Procs, work: Path, upstream_port: int, name: str, env: dict[str, str]) -> tuple[int, int]:
    """Start `lunaroute serve` on core 0 against the upstream; returns (port, pid) once it is healthy."""
    port = free_port()
    config = _gateway_config(work, upstream_port, name)
    argv = [sys.executable, "-m", "lunaroute", "serve", "--config", str(config), "--host", "127.0.0.1"]
    env = {**env, "LUNAROUTE_HOME": str(work / name)}
    proc = procs.start(name, pinned(PROXY_CORE, [*argv, "--port", str(port)]), env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30.0)
    except TimeoutError as exc:
        raise SystemExit(f"the gateway did not start: {exc}\n{procs.log_tail(name)}") from None
    return port, proc.pid


def _start_bare(procs: Procs, upstream_port: int, name: str) -> tuple[int, int]:
    """Start the bare proxy on core 0 against the upstream; returns (port, pid) once it listens."""
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "bare_proxy.py"), str(port), f"http://127.0.0.1:{upstream_port}"]
    proc = procs.start(name, pinned(PROXY_CORE, argv))
    wait_port(port)
    return port, proc.pid


def _start_upstream(procs: Procs, work: Path, choice: str) -> tuple[int, str]:
    """The fast upstream on core 1: nginx when it can be had (unless told otherwise), else aiohttp."""
    port = free_port()
    nginx = ensure_tool("nginx", ("nginx-light", "nginx")) if choice != "aiohttp" else None
    if nginx is not None:
        (work / "nginx").mkdir()
        conf = write_nginx_conf(work / "nginx", port)
        procs.start("nginx", pinned(LOAD_CORE, nginx_argv(nginx, conf)))
        wait_port(port)
        return port, "nginx, 1 worker"
    if choice == "nginx":
        raise SystemExit("nginx is not installed and could not be installed")
    procs.start("upstream", pinned(LOAD_CORE, aiohttp_upstream_argv(port, "fast")))
    wait_port(port)
    return port, "aiohttp"


class _Bench:
    """Runs the load passes, keeping every run of every target, and counts what the gateway served."""

    def __init__(self, loader: Loader, ports: dict[str, int], pids: dict[str, int], options: Options) -> None:
        self._loader = loader
        self._ports = ports
        self._pids = pids
        self._options = options
        self.runs: dict[str, dict[Scenario, list[LoadResult]]] = {t: {s: [] for s in SCENARIOS} for t in ports}
        self.gateway_served = 0

    def _load(self, target: str, stream: bool, connections: int, seconds: float) -> LoadResult:
        url = f"http://127.0.0.1:{self._ports[target]}{_PATH}"
        pid = self._pids.get(target)
        cpu, busy = (cpu_seconds(pid) if pid else 0.0), core_busy_seconds(PROXY_CORE)
        result = self._loader.run(url, stream=stream, connections=connections, seconds=seconds)
        cpu, busy = (cpu_seconds(pid) if pid else 0.0) - cpu, core_busy_seconds(PROXY_CORE) - busy
        result = dataclasses.replace(result, proxy_cpu_s=cpu if pid else None, others_cpu_s=max(0.0, busy - cpu))
        if target == "gateway":
            self.gateway_served += result.requests
        return result

    def warm_up(self) -> None:
        for target in self._ports:
            for stream in (False, True):
                self._load(target, stream, 32, self._options.warmup_seconds)

    def one_pass(self, report: Callable[[str], None]) -> None:
        """Every scenario, the targets in turn within each, so drift in machine load touches them alike."""
        for stream, connections in SCENARIOS:
            for target in self._ports:
                result = self._load(target, stream, connections, self._options.seconds)
                self.runs[target][(stream, connections)].append(result)
                kind = "stream" if stream else "json"
                report(f"{target:8} {kind:6} @{connections:<2} {result.rps:10,.0f} req/s  p50 {result.p50_ms:.3f} ms")

    def top_up_gateway(self, total: int) -> None:
        """Send non-streaming requests @32 until the gateway has served `total` in all (at most 5 runs)."""
        for _ in range(5):
            remaining = total - self.gateway_served
            if remaining <= 0 or "gateway" not in self._ports:
                return
            rate = max(100.0, self._latest_rate())
            self._load("gateway", False, 32, seconds=min(300.0, remaining / rate * 1.05 + 1))

    def _latest_rate(self) -> float:
        runs = self.runs.get("gateway", {}).get((False, 32), [])
        return runs[-1].rps if runs else 1000.0

    def medians(self) -> dict[str, dict[Scenario, LoadResult]]:
        return {target: {s: _median(r) for s, r in by.items() if r} for target, by in self.runs.items()}


def _median(results: list[LoadResult]) -> LoadResult:
    """The pass with the median throughput (whole runs, so a row's numbers come from one run)."""
    ranked = sorted(results, key=lambda r: r.rps)
    return ranked[(len(ranked) - 1) // 2]


def _start_targets(
    procs: Procs, work: Path, upstream: int, env: dict[str, str], targets: tuple[str, ...], prefix: str
) -> tuple[dict[str, int], dict[str, int]]:
    """Start the proxies among `targets` against `upstream`: ({target: port}, {target: pid}); direct is the
    upstream itself."""
    ports: dict[str, int] = {}
    pids: dict[str, int] = {}
    for target in targets:
        if target == "direct":
            ports[target] = upstream
        elif target == "bare":
            ports[target], pids[target] = _start_bare(procs, upstream, f"{prefix}bare")
        else:
            ports[target], pids[target] = _start_gateway(procs, work, upstream, f"{prefix}gateway", env)
    return ports, pids


def _start_ttfb_upstream(procs: Procs, pause_ms: float) -> int:
    """An upstream that sends the first SSE event at once and the rest after `pause_ms`."""
    port = free_port()
    procs.start("ttfb-upstream", pinned(LOAD_CORE, aiohttp_upstream_argv(port, "ttfb", pause_ms / 1e3)))
    wait_port(port)
    return port


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _wait_quiet(limit: float, threshold: float = 0.15) -> None:
    """Wait (at most `limit` seconds) until other processes keep the machine under `threshold` busy."""
    deadline = time.monotonic() + limit
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        _say(f"machine {busy:.0%} busy with other work; waiting for it to settle")
        busy = machine_busy(5.0)
    if busy > threshold:
        _say(f"machine still {busy:.0%} busy; measuring anyway (the report shows the contention)")


def _measure(procs: Procs, work: Path, options: Options, results: Results, loader: Loader) -> None:
    """Start every process first (so a start that fails costs no measurement), then load, then TTFB."""
    env = _gateway_env(work, options.revision)
    upstream, kind = _start_upstream(procs, work, options.upstream)
    results.meta = dataclasses.replace(results.meta, upstream=kind)
    ports, pids = _start_targets(procs, work, upstream, env, options.targets, "")
    ttfb_upstream = _start_ttfb_upstream(procs, options.ttfb_pause_ms)
    # Direct is always sampled for TTFB: it is the baseline of "added".
    ttfb_targets = ("direct", *(t for t in options.targets if t != "direct"))
    ttfb_ports, _ = _start_targets(procs, work, ttfb_upstream, env, ttfb_targets, "ttfb-")
    bench = _Bench(loader, ports, pids, options)
    _say("warming up")
    bench.warm_up()
    for number in range(options.passes):
        _say(f"pass {number + 1}/{options.passes}")
        bench.one_pass(_say)
    results.loads = bench.medians()
    if "gateway" in pids:
        _say(f"gateway: {bench.gateway_served:,} requests so far; topping up to {options.rss_requests:,}")
        bench.top_up_gateway(options.rss_requests)
        results.rss_requests = bench.gateway_served
        results.rss_mb = rss_kib(pids["gateway"]) * 1024 / 1e6
        results.peak_rss_mb = rss_kib(pids["gateway"], "VmHWM") * 1024 / 1e6
    _say(f"streaming TTFB, {options.ttfb_requests} requests per target")
    results.ttfb_ms = measure_ttfb(ttfb_ports, options.ttfb_requests)


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM unwind the stack, so the `finally` that stops every child process runs."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, terminate)


def _workers_run(options: Options, work: Path, loader: Loader) -> int:
    """`--workers N`: the gateway with 1 and with N workers in the same run (bench/_workers.py)."""
    with Procs(work).owned() as procs:
        env = _gateway_env(work, options.revision)
        upstream, _ = _start_upstream(procs, work, options.upstream)
        config = _gateway_config(work, upstream, "workers")
        rows = measure_workers(
            procs, work, config, env, loader, workers=options.workers, seconds=options.seconds,
            warmup=options.warmup_seconds, passes=options.passes, say=_say,
        )  # fmt: skip
    report = render_workers(
        rows, options.workers, seconds=options.seconds, passes=options.passes, revision=_describe(options.revision)
    )
    print(report)
    output = options.output.with_name("workers.md") if options.output.name == "latest.md" else options.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    return 0


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    _stop_on_signals()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs at least 2 cores (proxy on core 0, upstream and load on core 1)")
    os.sched_setaffinity(0, {LOAD_CORE})  # the TTFB client runs in this process, beside the load generator
    wrk = ensure_tool("wrk", ("wrk",))
    _wait_quiet(options.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="lunaroute-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o711)  # nginx's unprivileged worker must reach the event-stream file inside
        loader = Loader(work, LOAD_CORE, wrk)
        if options.workers > 1:
            return _workers_run(options, work, loader)
        meta = Meta(
            seconds=options.seconds,
            passes=options.passes,
            loader="wrk, 1 thread" if wrk else "Python aiohttp client",
            upstream="",
            request_bytes=len(chat_request(False)),
            revision=_describe(options.revision),
            ttfb_requests=options.ttfb_requests,
            ttfb_pause_ms=options.ttfb_pause_ms,
        )
        results = Results(meta=meta)
        with Procs(work).owned() as procs:
            _measure(procs, work, options, results, loader)
    report = render(results)
    print(report)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(report)
    failed = [name for name, _, _, verdict in floor_rows(results) if verdict == "FAIL"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
