"""The gateway in several configurations against the same upstream, as ratios to the plain passthrough gateway.

Usage: `python bench/variants.py [--quick] [--duration S] [--passes N] [--variant NAME ...]` (see bench/README.md,
"Gateway variants"). Prints a Markdown report and writes it to bench/results/variants.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _load import Loader, LoadResult
from _payloads import chat_request
from _procs import Procs, core_busy_seconds, cpu_seconds, free_port, machine_busy, pinned, wait_http, wait_port
from _tools import ensure_tool
from _upstreams import aiohttp_upstream_argv
from _variants_config import ANTHROPIC_PATH, OPENAI_PATH, VARIANTS, Variant, write_config
from _variants_probe import Request, check_answers, measure_ttfb
from _variants_report import BASELINE, SCENARIOS, Meta, Results, VariantRuns, failed, render
from run import LOAD_CORE, PROXY_CORE, _describe, _gateway_env, _start_ttfb_upstream, _start_upstream, _stop_on_signals

BENCH_DIR = Path(__file__).resolve().parent
_NAMES = tuple(v.name for v in VARIANTS)
_IDLE_SHARE = 0.02
"""The gateway counts as idle once it uses less than this share of a core."""
_MAX_DRAIN_S = 15.0


@dataclass(frozen=True)
class Options:
    seconds: float
    warmup_seconds: float
    passes: int
    variants: tuple[str, ...]
    ttfb_requests: int
    ttfb_pause_ms: float
    upstream: str
    output: Path
    wait_quiet: float
    revision: str | None


def _parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a ~2-minute smoke run")
    parser.add_argument("--passes", type=int, default=1, help="repeat every variant; report the median (default 1)")
    parser.add_argument(
        "--variant", action="append", choices=_NAMES, help="bench only these (repeatable; passthrough always runs)"
    )
    parser.add_argument("--ttfb-requests", type=int, default=300, help="TTFB samples per variant and pass (≥ 200)")
    parser.add_argument("--ttfb-pause-ms", type=float, default=20.0, help="upstream pause after the 1st event")
    parser.add_argument("--upstream", choices=("auto", "nginx", "aiohttp"), default="auto")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "variants.md")
    parser.add_argument("--revision", help="bench this committed revision of src/ (default: the working tree)")
    parser.add_argument(
        "--wait-quiet", type=float, default=60.0, help="wait up to S seconds for an idle machine first (default 60)"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    chosen = set(args.variant or _NAMES) | {BASELINE}
    return Options(
        seconds=args.duration or (3.0 if quick else 10.0),
        warmup_seconds=1.0 if quick else 2.0,
        passes=max(1, args.passes),
        variants=tuple(name for name in _NAMES if name in chosen),
        ttfb_requests=max(200, args.ttfb_requests),
        ttfb_pause_ms=args.ttfb_pause_ms,
        upstream=args.upstream,
        output=args.output,
        wait_quiet=max(0.0, args.wait_quiet),
        revision=args.revision,
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _wait_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most `limit` seconds) until other processes keep the machine under `threshold` busy; returns how
    busy it was when measuring began."""
    deadline = time.monotonic() + limit
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        _say(f"machine {busy:.0%} busy with other work; waiting for it to settle")
        busy = machine_busy(5.0)
    if busy > threshold:
        _say(f"machine still {busy:.0%} busy; measuring anyway (the report shows the contention)")
    return busy


class _Gateway:
    """One `lunaroute serve` for one variant, on core 0, with its own LUNAROUTE_HOME; stopped on leaving."""

    def __init__(
        self, procs: Procs, work: Path, env: dict[str, str], variant: Variant, upstream: int, tag: str, bedrock: int = 0
    ):
        self._procs = procs
        self.name = f"{variant.name}-{tag}"
        home = work / self.name
        home.mkdir()
        config = write_config(home / "config.yaml", variant, upstream, ui_port=free_port(), bedrock_port=bedrock)
        if variant.prepare is not None:
            variant.prepare(home)
        self.port = free_port()
        argv = [sys.executable, "-m", "lunaroute", "serve", "--config", str(config), "--host", "127.0.0.1"]
        argv += ["--port", str(self.port)]
        self._proc = procs.start(self.name, pinned(PROXY_CORE, argv), {**env, "LUNAROUTE_HOME": str(home)})
        self.pid = self._proc.pid

    def __enter__(self) -> _Gateway:
        try:
            wait_http(f"http://127.0.0.1:{self.port}/healthz", timeout=30.0)
        except TimeoutError as exc:
            self._procs.stop(self._proc)
            raise SystemExit(
                f"{self.name}: the gateway did not start: {exc}\n{self._procs.log_tail(self.name)}"
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._procs.stop(self._proc)

    def counted_not_ok(self) -> int | None:
        """Answers its metrics counted with a status other than 200 and 499; None when /metrics is off."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
        except OSError:
            return None
        total = 0
        for line in text.splitlines():
            if line.startswith("lunaroute_requests_total{"):
                status = re.search(r'status="([^"]*)"', line)
                if status and status.group(1) not in ("200", "499"):
                    total += int(float(line.rsplit(" ", 1)[1]))
        return total


def _wait_idle(pid: int) -> tuple[float, float]:
    """Wait (at most _MAX_DRAIN_S) until `pid` uses under _IDLE_SHARE of a core: (its CPU seconds, seconds waited)."""
    started = time.monotonic()
    before = cpu_seconds(pid)
    while time.monotonic() - started < _MAX_DRAIN_S:
        time.sleep(0.25)
        now = cpu_seconds(pid)
        if now - before < 0.25 * _IDLE_SHARE + 1e-9:
            return now, time.monotonic() - started
        before = now
    return cpu_seconds(pid), time.monotonic() - started


class _Bench:
    def __init__(
        self,
        options: Options,
        loaders: dict[str, Loader],
        procs: Procs,
        work: Path,
        env: dict[str, str],
        bedrock: tuple[int, int] = (0, 0),
    ):
        self._bedrock, self._bedrock_ttfb = bedrock
        self._options = options
        self._loaders = loaders
        self._procs = procs
        self._work = work
        self._env = env
        self.results: dict[str, VariantRuns] = {name: VariantRuns() for name in options.variants}

    def _load(self, gateway: _Gateway, variant: Variant, stream: bool, connections: int, seconds: float) -> LoadResult:
        loader = self._loaders[variant.path]
        cpu, busy = cpu_seconds(gateway.pid), core_busy_seconds(PROXY_CORE)
        main = cpu_seconds(gateway.pid, children=False)
        result = loader.run(
            f"http://127.0.0.1:{gateway.port}{variant.path}", stream=stream, connections=connections, seconds=seconds
        )
        run_cpu, busy = cpu_seconds(gateway.pid) - cpu, core_busy_seconds(PROXY_CORE) - busy
        idle_cpu, waited = _wait_idle(gateway.pid)
        runs = self.results[variant.name]
        runs.drain_s = max(runs.drain_s, waited)
        main = cpu_seconds(gateway.pid, children=False) - main
        return dataclasses.replace(
            result, proxy_cpu_s=idle_cpu - cpu, others_cpu_s=max(0.0, busy - run_cpu), main_cpu_s=main
        )

    def load_variant(self, variant: Variant, upstream: int, number: int) -> None:
        runs = self.results[variant.name]
        tag = f"p{number}"
        with _Gateway(self._procs, self._work, self._env, variant, upstream, tag, self._bedrock) as gateway:
            anthropic = variant.path == ANTHROPIC_PATH
            try:
                check_answers(gateway.port, variant.path, variant.body(False), variant.body(True), anthropic)
            except (RuntimeError, OSError, ValueError) as exc:
                raise SystemExit(f"{gateway.name}: {exc}\n{self._procs.log_tail(gateway.name)}") from None
            for stream in (False, True):
                self._load(gateway, variant, stream, 32, self._options.warmup_seconds)
            for stream, connections in SCENARIOS:
                result = self._load(gateway, variant, stream, connections, self._options.seconds)
                runs.loads[(stream, connections)].append(result)
                kind = "stream" if stream else "json"
                _say(
                    f"{variant.name:12} {kind:6} @{connections:<2} {result.rps:10,.0f} req/s  p50 {result.p50_ms:.3f} ms"
                    f"  CPU {result.proxy_cpu_us_per_request or 0:.0f} µs/req  errors {result.errors}"
                )
            counted = gateway.counted_not_ok()
            if counted is not None:
                runs.counted_not_ok = (runs.counted_not_ok or 0) + counted

    def ttfb_variant(self, variant: Variant, ttfb_upstream: int, number: int) -> None:
        runs = self.results[variant.name]
        tag, bedrock = f"ttfb-p{number}", self._bedrock_ttfb
        with _Gateway(self._procs, self._work, self._env, variant, ttfb_upstream, tag, bedrock) as gateway:
            targets = {
                "direct": Request(ttfb_upstream, OPENAI_PATH, chat_request(True)),
                variant.name: Request(gateway.port, variant.path, variant.body(True)),
            }
            medians = measure_ttfb(targets, self._options.ttfb_requests)
        runs.ttfb_ms.append(medians[variant.name])
        runs.direct_ttfb_ms.append(medians["direct"])
        _say(f"{variant.name:12} TTFB {medians[variant.name]:.3f} ms (direct {medians['direct']:.3f} ms)")


def _start_bedrock_upstream(procs: Procs, mode: str, options: Options | None = None) -> int:
    """The Converse upstream on core 1 (`mode` bedrock, or bedrock-ttfb with the TTFB pause)."""
    port = free_port()
    pause = options.ttfb_pause_ms / 1e3 if options is not None else 0.0
    procs.start(f"{mode}-upstream", pinned(LOAD_CORE, aiohttp_upstream_argv(port, mode, pause)))
    wait_port(port)
    return port


def _measure(
    procs: Procs, work: Path, options: Options, loaders: dict[str, Loader]
) -> tuple[str, dict[str, VariantRuns]]:
    env = _gateway_env(work, options.revision)
    upstream, kind = _start_upstream(procs, work, options.upstream)
    ttfb_upstream = _start_ttfb_upstream(procs, options.ttfb_pause_ms)
    chosen = [v for v in VARIANTS if v.name in options.variants]
    bedrock = (0, 0)
    if any(v.upstream == "bedrock" for v in chosen):
        bedrock = (_start_bedrock_upstream(procs, "bedrock"), _start_bedrock_upstream(procs, "bedrock-ttfb", options))
    bench = _Bench(options, loaders, procs, work, env, bedrock)
    for number in range(options.passes):
        # Rotate the order each pass so that no variant always runs first (or last) in the machine's drift.
        order = chosen[number % len(chosen) :] + chosen[: number % len(chosen)]
        _say(f"pass {number + 1}/{options.passes}: {', '.join(v.name for v in order)}")
        for variant in order:
            bench.load_variant(variant, upstream, number)
            bench.ttfb_variant(variant, ttfb_upstream, number)
    return kind, bench.results


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    _stop_on_signals()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs at least 2 cores (gateway on core 0, upstream and load on core 1)")
    os.sched_setaffinity(0, {LOAD_CORE})  # the TTFB client runs in this process, beside the load generator
    wrk = ensure_tool("wrk", ("wrk",))
    busy = _wait_quiet(options.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="lunaroute-variants-") as tmp:
        work = Path(tmp)
        work.chmod(0o711)  # nginx's unprivileged worker must reach the event-stream file inside
        loaders: dict[str, Loader] = {}
        for variant in VARIANTS:
            if variant.path not in loaders:
                directory = work / f"load{variant.path.replace('/', '-')}"
                directory.mkdir()
                loaders[variant.path] = Loader(directory, LOAD_CORE, wrk, variant.body)
        with Procs(work).owned() as procs:
            upstream, runs = _measure(procs, work, options, loaders)
    meta = Meta(
        seconds=options.seconds,
        passes=options.passes,
        loader="wrk, 1 thread" if wrk else "Python aiohttp client",
        upstream=upstream,
        request_bytes={v.path: len(v.body(False)) for v in VARIANTS if v.name in options.variants},
        revision=_describe(options.revision),
        ttfb_requests=options.ttfb_requests,
        ttfb_pause_ms=options.ttfb_pause_ms,
        machine_busy=busy,
    )
    results = Results(meta=meta, runs=runs)
    report = render(results)
    print(report)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(report)
    return 1 if failed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
