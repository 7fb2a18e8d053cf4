"""`run.py --workers N`: the same gateway with 1 worker and with N workers (`serve --workers N`), loaded in turn in
one run, and the throughput N workers could reach on this machine at best.

Neither gateway is pinned: the point is to use more than one core. The upstream (nginx) and wrk stay on core 1,
as in the other rows, so the gateway's extra workers share that core with them. With C the gateway's CPU per
request and W everything else's (the upstream, the load generator, other tenants; both measured in the 1-worker
runs), one worker serves at most min(1/C, 2/(C+W)) (one core, or less when the others leave it less) and N
workers at most 2/(C+W) (two cores): the expected ceiling of the ratio is max(1, 2C/(C+W)).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _load import Loader
from _procs import Procs, core_busy_seconds, cpu_seconds, free_port, wait_http

__all__ = ["WorkerRow", "measure_workers", "render_workers"]

SCENARIOS = ((False, 32), (True, 32), (False, 64))


@dataclass(frozen=True)
class WorkerRow:
    stream: bool
    connections: int
    rps: dict[int, float]
    """Median req/s per worker count."""
    gateway_us: float
    """CPU µs per request of the 1-worker gateway."""
    others_us: float
    """CPU µs per request of everything else on the machine during the 1-worker runs (wrk, nginx, other tenants)."""

    @property
    def ratio(self) -> float:
        counts = sorted(self.rps)
        return self.rps[counts[-1]] / self.rps[counts[0]] if self.rps[counts[0]] else 0.0

    @property
    def ceiling(self) -> float:
        c, w = self.gateway_us, self.others_us
        return max(1.0, 2 * c / (c + w)) if c + w else 0.0


def _start(procs: Procs, work: Path, config: Path, workers: int, env: dict[str, str]) -> tuple[int, int]:
    port = free_port()
    name = f"gateway-{workers}w"
    # Unpinned for real: this process runs on the load generator's core, and a child would inherit that.
    every_core = ",".join(str(core) for core in range(os.cpu_count() or 1))
    argv = ["taskset", "-c", every_core, sys.executable, "-m", "lunaroute", "serve", "--config", str(config),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]  # fmt: skip
    proc = procs.start(name, argv, {**env, "LUNAROUTE_HOME": str(work / name)})
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60.0)
    except TimeoutError as exc:
        raise SystemExit(f"the gateway did not start: {exc}\n{procs.log_tail(name)}") from None
    return port, proc.pid


def measure_workers(
    procs: Procs,
    work: Path,
    config: Path,
    env: dict[str, str],
    loader: Loader,
    *,
    workers: int,
    seconds: float,
    warmup: float,
    passes: int,
    say: Callable[[str], None] = print,
) -> list[WorkerRow]:
    """Load the 1-worker and the N-worker gateway in turn, scenario by scenario, `passes` times."""
    counts = (1, workers)
    started = {n: _start(procs, work, config, n, env) for n in counts}
    for port, _ in started.values():
        for stream in (False, True):
            loader.run(f"http://127.0.0.1:{port}/v1/chat/completions", stream=stream, connections=32, seconds=warmup)
    rows = []
    for stream, connections in SCENARIOS:
        runs: dict[int, list[float]] = {n: [] for n in counts}
        gateway_cpu = others_cpu = served = 0.0
        for _ in range(passes):
            for n in counts:
                port, pid = started[n]
                cpu, busy = cpu_seconds(pid), core_busy_seconds(0) + core_busy_seconds(1)
                result = loader.run(
                    f"http://127.0.0.1:{port}/v1/chat/completions", stream=stream, connections=connections,
                    seconds=seconds,
                )  # fmt: skip
                cpu, busy = cpu_seconds(pid) - cpu, core_busy_seconds(0) + core_busy_seconds(1) - busy
                runs[n].append(result.rps)
                if n == 1:
                    gateway_cpu += cpu
                    others_cpu += max(0.0, busy - cpu)
                    served += result.requests
                kind = "stream" if stream else "json"
                say(f"{n} worker(s) {kind:6} @{connections:<2} {result.rps:10,.0f} req/s")
        rows.append(
            WorkerRow(
                stream=stream,
                connections=connections,
                rps={n: sorted(r)[(len(r) - 1) // 2] for n, r in runs.items()},
                gateway_us=gateway_cpu / served * 1e6 if served else 0.0,
                others_us=others_cpu / served * 1e6 if served else 0.0,
            )
        )
    return rows


def render_workers(rows: list[WorkerRow], workers: int, *, seconds: float, passes: int, revision: str) -> str:
    lines = [
        f"# Gateway workers: 1 and {workers} (`serve --workers {workers}`)",
        "",
        f"Revision {revision}; {seconds:g} s per run, median of {passes} pass(es); nginx and wrk on core 1, the "
        "gateways unpinned. Numbers on a shared machine are indicative.",
        "",
        f"| scenario | 1 worker req/s | {workers} workers req/s | ratio | gateway CPU µs/req | others CPU µs/req "
        "| expected ceiling max(1, 2C/(C+W)) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        kind = "stream" if row.stream else "json"
        lines.append(
            f"| {kind} @{row.connections} | {row.rps[1]:,.0f} | {row.rps[workers]:,.0f} | {row.ratio:.2f}x "
            f"| {row.gateway_us:,.0f} | {row.others_us:,.0f} | {row.ceiling:.2f}x |"
        )
    return "\n".join(lines) + "\n"
