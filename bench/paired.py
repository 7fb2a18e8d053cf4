"""Two gateway variants on one core, measured round by round: the ratio of what each serves.

Usage: `python bench/paired.py [--variant NAME] [--rounds N] [--duration S] [--json-too] [--alternate]` (see
bench/README.md, "Paired runs"). Both variants' gateways run on core 0, each loaded by its own wrk on core 1.
By default they are loaded together, so the scheduler gives them equal shares of the one core and every change in
the machine's speed touches both alike: each serves in inverse proportion to its CPU cost per request. With
`--alternate` each is loaded alone, one after the other, in alternating order, so each has the core to itself as
in production and the drift between the two runs of a round is short. Either way the ratio of their request
counts in a round is the throughput ratio the floor speaks of. Prints a Markdown report and writes it to
bench/results/paired.md.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _load import Loader, LoadResult
from _procs import Procs, cpu_seconds
from _tools import ensure_tool
from _variants_config import VARIANTS, Variant
from run import LOAD_CORE, _describe, _gateway_env, _start_upstream, _stop_on_signals
from variants import _Gateway

BENCH_DIR = Path(__file__).resolve().parent
_BASELINE = "passthrough"
_IDLE_CPU_S = 0.01
"""A gateway (with its recorder process) counts as idle once it uses less than this CPU in a quarter second."""


@dataclass(frozen=True)
class Options:
    variant: str
    rounds: int
    seconds: float
    scenarios: tuple[bool, ...]
    output: Path
    revision: str | None
    alternate: bool


def _parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Both gateways share the nginx upstream: a variant with an upstream of its own (bedrock) is for variants.py.
    names = [v.name for v in VARIANTS if v.name != _BASELINE and v.upstream == "openai"]
    parser.add_argument("--variant", choices=names, default="recording", help="paired with passthrough")
    parser.add_argument("--rounds", type=int, default=9, help="paired load runs per scenario (default 9)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per paired run (default 4)")
    parser.add_argument("--json-too", action="store_true", help="also the JSON scenario (default: stream only)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "paired.md")
    parser.add_argument("--revision", help="bench this committed revision of src/ (default: the working tree)")
    parser.add_argument("--alternate", action="store_true", help="load each gateway alone, in alternating order")
    args = parser.parse_args(argv)
    return Options(
        variant=args.variant,
        rounds=max(3, args.rounds),
        seconds=max(1.0, args.duration),
        scenarios=(False, True) if args.json_too else (True,),
        output=args.output,
        revision=args.revision,
        alternate=args.alternate,
    )


def _wait_idle(pid: int, limit: float = 60.0) -> float:
    """Wait until the gateway and its children (the recorder catching up) go idle; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_seconds(pid)
        time.sleep(0.25)
        if cpu_seconds(pid) - before < _IDLE_CPU_S:
            break
    return time.monotonic() - started


def _together(loaders: dict[str, Loader], urls: dict[str, str], stream: bool, seconds: float) -> dict[str, LoadResult]:
    """Load every gateway at once, each by its own wrk; returns each one's result."""
    results: dict[str, LoadResult] = {}
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            results[name] = loaders[name].run(urls[name], stream=stream, connections=32, seconds=seconds)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(name,)) for name in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _one_by_one(
    loaders: dict[str, Loader], urls: dict[str, str], stream: bool, seconds: float, pids: list[int], flip: bool
) -> dict[str, LoadResult]:
    """Load each gateway alone (every gateway idle first), in the order of `urls`, reversed when `flip`."""
    results: dict[str, LoadResult] = {}
    for name in reversed(list(urls)) if flip else urls:
        for pid in pids:
            _wait_idle(pid)
        results[name] = loaders[name].run(urls[name], stream=stream, connections=32, seconds=seconds)
    return results


def _variant(name: str) -> Variant:
    return next(v for v in VARIANTS if v.name == name)


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    _stop_on_signals()
    wrk = ensure_tool("wrk", ("wrk",))
    variant, baseline = _variant(options.variant), _variant(_BASELINE)
    floor = variant.floor.minimum if variant.floor is not None and variant.floor.denominator == _BASELINE else None
    with (
        tempfile.TemporaryDirectory(prefix="lunaroute-paired-") as tmp,
        Procs(Path(tmp)).owned() as procs,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        work.chmod(0o711)  # nginx's unprivileged worker must reach the event-stream file inside
        env = _gateway_env(work, options.revision)
        upstream, upstream_kind = _start_upstream(procs, work, "auto")
        loaders = {}
        for v in (baseline, variant):
            (work / f"load-{v.name}").mkdir()
            loaders[v.name] = Loader(work / f"load-{v.name}", LOAD_CORE, wrk, v.body)
        gateways = {
            v.name: stack.enter_context(_Gateway(procs, work, env, v, upstream, "paired")) for v in (baseline, variant)
        }
        paths = {baseline.name: baseline.path, variant.name: variant.path}
        urls = {name: f"http://127.0.0.1:{g.port}{paths[name]}" for name, g in gateways.items()}
        rows = []
        for stream in options.scenarios:
            scenario = "stream" if stream else "json"
            _together(loaders, urls, stream, 2.0)  # warm-up
            ratios: list[float] = []
            served: dict[str, list[float]] = {name: [] for name in urls}
            for number in range(options.rounds):
                pids = [gateway.pid for gateway in gateways.values()]
                if options.alternate:
                    results = _one_by_one(loaders, urls, stream, options.seconds, pids, flip=number % 2 == 1)
                else:
                    for pid in pids:
                        _wait_idle(pid)
                    results = _together(loaders, urls, stream, options.seconds)
                if any(r.errors for r in results.values()):
                    raise SystemExit(f"{scenario} round {number}: errors {[r.errors for r in results.values()]}")
                for name, result in results.items():
                    served[name].append(result.rps)
                ratio = results[variant.name].requests / results[baseline.name].requests
                ratios.append(ratio)
                print(
                    f"{scenario} round {number + 1}/{options.rounds}: {baseline.name} "
                    f"{results[baseline.name].rps:,.0f} req/s, {variant.name} {results[variant.name].rps:,.0f} "
                    f"req/s, ratio {ratio:.3f}",
                    flush=True,
                )
            quartiles = statistics.quantiles(ratios, n=4)
            rows.append((scenario, served, ratios, quartiles))
        lines = _report(options, variant, baseline, floor, rows, upstream_kind)
    text = "\n".join(lines) + "\n"
    print(text)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text)
    failed = floor is not None and any(statistics.median(r[2]) < floor for r in rows)
    return 1 if failed else 0


def _report(
    options: Options,
    variant: Variant,
    baseline: Variant,
    floor: float | None,
    rows: list[tuple[str, dict[str, list[float]], list[float], list[float]]],
    upstream_kind: str,
) -> list[str]:
    how = (
        "each loaded alone, one after the other (alternating which goes first), with every gateway (and any "
        "recorder process catching up) idle before each run"
        if options.alternate
        else "loaded at the same time, with both gateways (and any recorder process catching up) idle before each round"
    )
    lines = [
        f"# Paired runs{' (alternate)' if options.alternate else ''}: {variant.name} against {baseline.name}",
        "",
        f"Revision {_describe(options.revision)}. Both gateways on core 0, {how}; {options.seconds:g} s per run, "
        f"{options.rounds} rounds per scenario, each gateway loaded by its own wrk (1 thread, 32 connections) on "
        f"core 1 with the upstream ({upstream_kind}). Ratio = requests the variant served ÷ requests the baseline "
        "served in the same round.",
        "",
        "| scenario | baseline req/s (median) | variant req/s (median) | ratio median | ratio quartiles | "
        "floor | result |",
        "|---|--:|--:|--:|--:|--:|:-:|",
    ]
    for scenario, served, ratios, quartiles in rows:
        median = statistics.median(ratios)
        result = "—" if floor is None else ("PASS" if median >= floor else "FAIL")
        lines.append(
            f"| {scenario} | {statistics.median(served[baseline.name]):,.0f} | "
            f"{statistics.median(served[variant.name]):,.0f} | {median:.3f} | "
            f"{quartiles[0]:.3f} to {quartiles[2]:.3f} | {'—' if floor is None else f'≥ {floor:.2f}'} | {result} |"
        )
    lines += [
        "",
        "Per-round ratios: " + "; ".join(f"{s}: " + ", ".join(f"{r:.3f}" for r in rs) for s, _, rs, _ in rows),
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
