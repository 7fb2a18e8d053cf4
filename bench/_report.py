"""The benchmark's results and their Markdown report: load tables, streaming TTFB, ratios and floors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from _load import LoadResult

__all__ = ["SCENARIOS", "TARGETS", "Meta", "Results", "Scenario", "floor_rows", "render"]

Scenario = tuple[bool, int]
"""(streaming, connections)."""

SCENARIOS: tuple[Scenario, ...] = ((False, 1), (False, 32), (True, 1), (True, 32))
TARGETS = ("direct", "bare", "gateway")
_LABELS = {"direct": "direct to upstream", "bare": "through the bare proxy", "gateway": "through the gateway"}

# The acceptance floors.
MIN_RPS_32 = 5000.0
MAX_ADDED_P50_MS = 0.5
MAX_ADDED_TTFB_MS = 1.0
MAX_RSS_MB = 100.0


@dataclass(frozen=True)
class Meta:
    """How the numbers were taken, printed above the tables."""

    seconds: float
    passes: int
    loader: str
    upstream: str
    request_bytes: int
    revision: str
    ttfb_requests: int
    ttfb_pause_ms: float


@dataclass
class Results:
    meta: Meta
    loads: dict[str, dict[Scenario, LoadResult]] = field(default_factory=dict)
    ttfb_ms: dict[str, float] = field(default_factory=dict)
    rss_mb: float | None = None
    peak_rss_mb: float | None = None
    rss_requests: int = 0

    def get(self, target: str, scenario: Scenario) -> LoadResult | None:
        return self.loads.get(target, {}).get(scenario)


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "—" if value is None else format(value, fmt)


def _load_table(results: Results, stream: bool) -> list[str]:
    head = "| target | req/s @1 | p50 @1 (ms) | p99 @1 (ms) | req/s @32 | p50 @32 (ms) | p99 @32 (ms) | CPU µs/req @32 | errors |"
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for target in TARGETS:
        if target not in results.loads:
            continue
        cells: list[str] = []
        errors = 0
        for conns in (1, 32):
            run = results.get(target, (stream, conns))
            errors += run.errors if run else 0
            cells += [_num(run and run.rps), _num(run and run.p50_ms, ".3f"), _num(run and run.p99_ms, ".3f")]
        busy = results.get(target, (stream, 32))
        cells.append(_num(busy and busy.proxy_cpu_us_per_request, ".0f"))
        lines.append(f"| {_LABELS[target]} | {' | '.join(cells)} | {errors:,} |")
    return lines


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _rps(results: Results, target: str, scenario: Scenario) -> float | None:
    run = results.get(target, scenario)
    return run.rps if run else None


def _p50(results: Results, target: str, scenario: Scenario) -> float | None:
    run = results.get(target, scenario)
    return run.p50_ms if run else None


def _ttfb_table(results: Results) -> list[str]:
    direct = results.ttfb_ms.get("direct")
    lines = ["| target | TTFB p50 (ms) | added vs direct (ms) |", "|---|--:|--:|"]
    for target in TARGETS:
        if target in results.ttfb_ms:
            value = results.ttfb_ms[target]
            added = _delta(value, direct) if target != "direct" else None
            lines.append(f"| {_LABELS[target]} | {value:.3f} | {_num(added, '+.3f')} |")
    return lines


def _comparisons(results: Results) -> list[str]:
    lines = ["| measure | gateway | bare proxy |", "|---|--:|--:|"]
    for stream, conns in SCENARIOS:
        kind = "streaming" if stream else "non-streaming"
        ratio = _ratio(_rps(results, "gateway", (stream, conns)), _rps(results, "bare", (stream, conns)))
        lines.append(f"| throughput gateway / bare, {kind} @{conns} | {_num(ratio, '.2f')} | 1.00 |")
    for stream in (False, True):
        kind = "streaming" if stream else "non-streaming"
        direct = _p50(results, "direct", (stream, 1))
        gateway = _delta(_p50(results, "gateway", (stream, 1)), direct)
        bare = _delta(_p50(results, "bare", (stream, 1)), direct)
        lines.append(f"| added p50 @1 vs direct (ms), {kind} | {_num(gateway, '+.3f')} | {_num(bare, '+.3f')} |")
    return lines


def _verdict(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return "n/a"
    return "PASS" if ok(value) else "FAIL"


def floor_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """(floor, measured, required, PASS/FAIL/n/a) for each acceptance floor."""
    rps = _rps(results, "gateway", (False, 32))
    added = _delta(_p50(results, "gateway", (False, 1)), _p50(results, "direct", (False, 1)))
    ttfb = _delta(results.ttfb_ms.get("gateway"), results.ttfb_ms.get("direct"))
    rss = results.rss_mb
    rss_name = f"gateway RSS after {results.rss_requests:,} requests (MB)"
    return [
        (
            "gateway req/s @32, non-streaming",
            _num(rps),
            f"≥ {MIN_RPS_32:,.0f}",
            _verdict(rps, lambda v: v >= MIN_RPS_32),
        ),
        (
            "gateway added p50 @1, non-streaming (ms)",
            _num(added, "+.3f"),
            f"≤ {MAX_ADDED_P50_MS}",
            _verdict(added, lambda v: v <= MAX_ADDED_P50_MS),
        ),
        (
            "gateway streaming TTFB added (ms)",
            _num(ttfb, "+.3f"),
            f"≤ {MAX_ADDED_TTFB_MS}",
            _verdict(ttfb, lambda v: v <= MAX_ADDED_TTFB_MS),
        ),
        (rss_name, _num(rss, ".1f"), f"< {MAX_RSS_MB:.0f}", _verdict(rss, lambda v: v < MAX_RSS_MB)),
    ]


def _contention(results: Results) -> list[str]:
    shares = [
        run.others_cpu_s / run.seconds
        for target in ("bare", "gateway")
        for run in results.loads.get(target, {}).values()
        if run.seconds
    ]
    if not shares:
        return []
    mean, worst = sum(shares) / len(shares), max(shares)
    line = f"Other processes took {mean:.0%} of core 0 on average during the proxy runs (at most {worst:.0%})."
    if worst > 0.10:
        line += " The machine was not quiet: req/s and latencies of the proxies are understated; CPU µs/req is not."
    return ["", line]


def _capacity(results: Results) -> list[str]:
    run = results.get("gateway", (False, 32))
    cost = run.proxy_cpu_us_per_request if run else None
    if cost is None:
        return []
    return [
        "",
        f"Gateway CPU per non-streaming request @32: {cost:.0f} µs, i.e. about {1e6 / cost:,.0f} req/s "
        "for a whole core.",
    ]


def _floors(results: Results) -> list[str]:
    lines = ["| floor | measured | required | result |", "|---|--:|--:|:-:|"]
    lines += [f"| {name} | {value} | {need} | {verdict} |" for name, value, need, verdict in floor_rows(results)]
    lines += _capacity(results)
    if results.peak_rss_mb is not None:
        lines += ["", f"Gateway peak RSS (VmHWM): {results.peak_rss_mb:.1f} MB."]
    return lines


def _header(meta: Meta) -> list[str]:
    passes = f", median of {meta.passes} passes" if meta.passes > 1 else ""
    return [
        "# LunaRoute load benchmark",
        "",
        f"Revision {meta.revision}. Proxy under test on core 0; upstream ({meta.upstream}) and load generator "
        f"({meta.loader}) on core 1. {meta.seconds:g} s per run{passes}, keep-alive, "
        f"POST /v1/chat/completions with a {meta.request_bytes:,}-byte JSON body. Latencies in ms; "
        "@N = N connections; CPU µs/req = CPU time of the proxy process per request; "
        "errors = non-2xx/3xx answers and socket errors over the row's runs.",
    ]


def render(results: Results) -> str:
    """The whole report as Markdown."""
    meta = results.meta
    parts = [
        *_header(meta),
        *_contention(results),
        "",
        "## Non-streaming (JSON reply)",
        "",
        *_load_table(results, False),
    ]
    parts += ["", "## Streaming (10 SSE events + `[DONE]` in one body)", "", *_load_table(results, True)]
    if results.ttfb_ms:
        parts += [
            "",
            f"## Streaming time to first byte (median of {meta.ttfb_requests} requests; the upstream sends the "
            f"first event at once and the rest after {meta.ttfb_pause_ms:g} ms)",
            "",
            *_ttfb_table(results),
        ]
    parts += ["", "## Gateway vs bare proxy", "", *_comparisons(results)]
    parts += ["", "## Floors", "", *_floors(results), ""]
    return "\n".join(parts)
