"""What `variants.py` measured and its Markdown report: one row per variant, ratios to passthrough, floors."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from _load import LoadResult
from _variants_config import VARIANTS, Floor, Variant

__all__ = ["BASELINE", "SCENARIOS", "Meta", "Results", "VariantRuns", "failed", "render"]

Scenario = tuple[bool, int]
"""(streaming, connections)."""

SCENARIOS: tuple[Scenario, ...] = ((False, 32), (True, 32), (False, 1))
BASELINE = "passthrough"
_THROUGHPUT: tuple[Scenario, ...] = ((False, 32), (True, 32))
"""The scenarios a throughput floor applies to: both must pass."""


@dataclass(frozen=True)
class Meta:
    seconds: float
    passes: int
    loader: str
    upstream: str
    request_bytes: dict[str, int]
    revision: str
    ttfb_requests: int
    ttfb_pause_ms: float
    machine_busy: float
    """Share of both cores busy with other work just before the first measurement."""


@dataclass
class VariantRuns:
    """Every pass of one variant: load runs per scenario, TTFB medians, answers the gateway counted as not 200."""

    loads: dict[Scenario, list[LoadResult]] = field(default_factory=lambda: {s: [] for s in SCENARIOS})
    ttfb_ms: list[float] = field(default_factory=list)
    direct_ttfb_ms: list[float] = field(default_factory=list)
    """The upstream's own TTFB, sampled in turn with the variant in the same pass (the drift reference)."""
    counted_not_ok: int | None = None
    """Answers the gateway's own metrics counted with a status other than 200 (499 excluded: wrk cuts requests
    off when its time is up); None when metrics are off."""
    drain_s: float = 0.0
    """Longest wait after a load run for the gateway to go idle (its CPU meanwhile counts towards CPU µs/req)."""

    def median(self, scenario: Scenario) -> LoadResult | None:
        """The pass with the median throughput (whole runs, so a cell's numbers come from one run)."""
        ranked = sorted(self.loads[scenario], key=lambda r: r.rps)
        return ranked[(len(ranked) - 1) // 2] if ranked else None

    @property
    def errors(self) -> int:
        return sum(r.errors for runs in self.loads.values() for r in runs) + (self.counted_not_ok or 0)

    @property
    def ttfb_added_vs_direct(self) -> float | None:
        deltas = [v - d for v, d in zip(self.ttfb_ms, self.direct_ttfb_ms, strict=True)]
        return statistics.median(deltas) if deltas else None

    @property
    def contention(self) -> float | None:
        """Average share of the gateway's core that other processes took during its load runs."""
        runs = [r for runs in self.loads.values() for r in runs if r.seconds]
        return statistics.mean(r.others_cpu_s / r.seconds for r in runs) if runs else None


@dataclass
class Results:
    meta: Meta
    runs: dict[str, VariantRuns] = field(default_factory=dict)

    def ratio(self, numerator: str, denominator: str, scenario: Scenario) -> float | None:
        """Median over passes of numerator req/s ÷ denominator req/s in the same pass (pairs runs taken close
        together, so drift in machine load cancels)."""
        a, b = self.runs.get(numerator), self.runs.get(denominator)
        if a is None or b is None:
            return None
        pairs = zip(a.loads[scenario], b.loads[scenario], strict=False)
        values = [x.rps / y.rps for x, y in pairs if y.rps]
        return statistics.median(values) if values else None

    def cpu_ratio(self, numerator: str, denominator: str, scenario: Scenario) -> float | None:
        """Median over passes of denominator CPU µs/req ÷ numerator CPU µs/req: the req/s ratio the two would
        have on a core of their own, little moved by other work on the machine."""
        a, b = self.runs.get(numerator), self.runs.get(denominator)
        if a is None or b is None:
            return None
        pairs = zip(a.loads[scenario], b.loads[scenario], strict=False)
        values = [
            y.proxy_cpu_us_per_request / x.proxy_cpu_us_per_request
            for x, y in pairs
            if x.proxy_cpu_us_per_request and y.proxy_cpu_us_per_request
        ]
        return statistics.median(values) if values else None

    def ttfb_added_vs_baseline(self, variant: str) -> float | None:
        a, b = self.runs.get(variant), self.runs.get(BASELINE)
        if a is None or b is None or a.ttfb_added_vs_direct is None or b.ttfb_added_vs_direct is None:
            return None
        return a.ttfb_added_vs_direct - b.ttfb_added_vs_direct


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "—" if value is None else format(value, fmt)


def _pair(a: float | None, b: float | None, fmt: str) -> str:
    return f"{_num(a, fmt)} / {_num(b, fmt)}"


def _floor_value(results: Results, floor: Floor, by_cpu: bool = False) -> float | None:
    ratio = results.cpu_ratio if by_cpu else results.ratio
    values = [ratio(floor.numerator, floor.denominator, s) for s in _THROUGHPUT]
    return None if None in values else min(v for v in values if v is not None)


def _check(value: float | None, ok: bool) -> str:
    return "n/a" if value is None else ("PASS" if ok else "FAIL")


Verdict = tuple[str, str, str, str, str, str]
"""(floor, measured, measured by CPU, required, result, result by CPU)."""


def _verdicts(results: Results, variant: Variant) -> list[Verdict]:
    """Every floor of `variant`, errors first. The result is by req/s, as the floors are stated; the result by
    CPU applies the same bound to the CPU ratio (the number to trust when the machine was busy)."""
    runs = results.runs[variant.name]
    errors = _check(0, not runs.errors)
    rows = [(f"{variant.name}: every answer 200", f"{runs.errors:,} not", "—", "0 not", errors, errors)]
    if variant.floor is not None:
        floor = variant.floor
        value, by_cpu = _floor_value(results, floor), _floor_value(results, floor, by_cpu=True)
        rows.append(
            (
                f"{floor.numerator} / {floor.denominator} req/s @32 (worse of json, stream)",
                _num(value, ".2f"),
                _num(by_cpu, ".2f"),
                f"≥ {floor.minimum:.2f}",
                _check(value, value is not None and value >= floor.minimum),
                _check(by_cpu, by_cpu is not None and by_cpu >= floor.minimum),
            )
        )
    if variant.max_ttfb_added_ms is not None:
        added = results.ttfb_added_vs_baseline(variant.name)
        ceiling = variant.max_ttfb_added_ms
        verdict = _check(added, added is not None and added <= ceiling)
        label = f"{variant.name} streaming TTFB added vs passthrough (ms)"
        rows.append((label, _num(added, "+.3f"), "—", f"≤ {ceiling}", verdict, "—"))
    return rows


def _overall(rows: list[Verdict]) -> str:
    verdicts = [r[4] for r in rows]
    return "FAIL" if "FAIL" in verdicts else ("n/a" if "n/a" in verdicts else "PASS")


def failed(results: Results) -> list[str]:
    """The names of the floors that failed."""
    return [row[0] for v in VARIANTS if v.name in results.runs for row in _verdicts(results, v) if row[4] == "FAIL"]


def _main_table(results: Results) -> list[str]:
    lines = [
        "| variant | req/s @32 json | req/s @32 stream | p50 @1 json (ms) | CPU µs/req @32 (json / stream) "
        "| of which the gateway process | ratio to passthrough (json / stream) | CPU ratio (json / stream) "
        "| errors | floor | result |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|:-:|",
    ]
    for variant in VARIANTS:
        runs = results.runs.get(variant.name)
        if runs is None:
            continue
        json32, stream32, json1 = (runs.median(s) for s in SCENARIOS)
        cpu = _pair(json32 and json32.proxy_cpu_us_per_request, stream32 and stream32.proxy_cpu_us_per_request, ".0f")
        main = _pair(json32 and json32.main_cpu_us_per_request, stream32 and stream32.main_cpu_us_per_request, ".0f")
        ratio = _pair(*(results.ratio(variant.name, BASELINE, s) for s in _THROUGHPUT), ".2f")
        cpu_ratio = _pair(*(results.cpu_ratio(variant.name, BASELINE, s) for s in _THROUGHPUT), ".2f")
        floor = "baseline" if variant.name == BASELINE else (variant.floor.label if variant.floor else "—")
        if variant.max_ttfb_added_ms is not None:
            floor += f"; TTFB +≤ {variant.max_ttfb_added_ms} ms"
        cells = [
            variant.name,
            _num(json32 and json32.rps),
            _num(stream32 and stream32.rps),
            _num(json1 and json1.p50_ms, ".3f"),
            cpu,
            main,
            ratio,
            cpu_ratio,
            f"{runs.errors:,}",
            floor,
            _overall(_verdicts(results, variant)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ttfb_table(results: Results) -> list[str]:
    lines = [
        "| variant | TTFB p50 (ms) | upstream direct, same pass (ms) | added vs direct (ms) "
        "| added vs passthrough (ms) | ceiling | result |",
        "|---|--:|--:|--:|--:|--:|:-:|",
    ]
    for variant in VARIANTS:
        runs = results.runs.get(variant.name)
        if runs is None or not runs.ttfb_ms:
            continue
        added = results.ttfb_added_vs_baseline(variant.name)
        ceiling = variant.max_ttfb_added_ms
        verdict = "—" if ceiling is None or added is None else ("PASS" if added <= ceiling else "FAIL")
        cells = [
            variant.name,
            _num(statistics.median(runs.ttfb_ms), ".3f"),
            _num(statistics.median(runs.direct_ttfb_ms), ".3f"),
            _num(runs.ttfb_added_vs_direct, "+.3f"),
            "—" if variant.name == BASELINE else _num(added, "+.3f"),
            "—" if ceiling is None else f"≤ {ceiling}",
            verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _contention(results: Results) -> str:
    shares = {name: runs.contention for name, runs in results.runs.items() if runs.contention is not None}
    if not shares:
        return ""
    worst = max(shares.values())
    each = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    line = (
        f"The machine was {results.meta.machine_busy:.0%} busy with other work just before the first run. "
        f"Other processes took this share of core 0 during each variant's load runs: {each}."
    )
    if worst > 0.05:
        line += (
            " The machine was not quiet: req/s are understated and the req/s ratios carry that noise;"
            " CPU µs/req and the CPU ratio are affected less (use --passes 3 or more)."
        )
    return line


def render(results: Results) -> str:
    meta = results.meta
    sizes = ", ".join(f"{path} {size:,} B" for path, size in meta.request_bytes.items())
    drains = {name: runs.drain_s for name, runs in results.runs.items() if runs.drain_s >= 1.0}
    drain = (
        " Longest wait for the gateway to go idle after a run (its CPU then is counted): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in drains.items())
        + "."
        if drains
        else ""
    )
    lines = [
        "# LunaRoute gateway variants",
        "",
        f"Revision {meta.revision}. Each variant is its own `lunaroute serve` on core 0, started and measured alone; "
        f"upstream ({meta.upstream}) and load generator ({meta.loader}) on core 1. {meta.seconds:g} s per run, "
        f"{meta.passes} pass(es) (the median pass is shown; ratios are the median of per-pass ratios). Request bodies: "
        f"{sizes}. CPU µs/req = the gateway's CPU time per request @32 (its process and its recorder "
        f"process, which inherits core 0 and runs at a lower priority), including any work it finishes after the "
        f"run; \"of which the gateway process\" = the request path's share, during the run only; CPU ratio = passthrough CPU µs/req ÷ the variant's (the req/s ratio on a core of its own); errors = "
        f"non-2xx/3xx and socket errors from wrk plus answers the gateway's metrics counted as not 200.{drain}",
        "",
        _contention(results),
        "",
        "## Load (ratios to passthrough)",
        "",
        *_main_table(results),
        "",
        f"## Streaming time to first event (median of {meta.ttfb_requests} requests per pass; the upstream sends "
        f"the first event at once and the rest after {meta.ttfb_pause_ms:g} ms)",
        "",
        *_ttfb_table(results),
        "",
        "## Floors",
        "",
        "| floor | measured | measured by CPU | required | result | result by CPU |",
        "|---|--:|--:|--:|:-:|:-:|",
    ]
    for variant in VARIANTS:
        if variant.name in results.runs:
            lines += ["| " + " | ".join(row) + " |" for row in _verdicts(results, variant)]
    lines += ["", "## Variants", ""]
    lines += [f"- **{v.name}** (`{v.path}`): {v.summary}." for v in VARIANTS if v.name in results.runs]
    return "\n".join(lines) + "\n"
