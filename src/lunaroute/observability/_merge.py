"""One `/metrics` for the whole gateway: the Prometheus expositions of every process of `serve --workers N`
merged into one, so that a scrape of any worker reports the gateway, not the worker that happened to answer.

Counters, histograms and summaries are summed sample by sample (same name, same labels). Gauges are summed too
(connections, requests in flight, pool sizes, journal backlog), except the ones that describe a state each worker
keeps for itself: a provider's circuit breaker reports the worst worker's (`max`: 2 is open), its health and
success rate the worst worker's (`min`). Counters' `*_created` timestamps are left out (each worker has its own;
Prometheus does not need them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

__all__ = ["GAUGE_MERGE", "merge_expositions"]

GAUGE_MERGE: dict[str, str] = {
    "lunaroute_breaker_state": "max",
    "lunaroute_provider_health": "min",
    "lunaroute_provider_success_rate": "min",
    "lunaroute_recorder_disk_free_bytes": "min",
}
"""Gauges that are not summed across workers, and how they are combined instead."""


def _combine(family: str, kind: str, old: float, new: float) -> float:
    if kind == "gauge":
        how = GAUGE_MERGE.get(family, "sum")
        if how == "max":
            return max(old, new)
        if how == "min":
            return min(old, new)
    return old + new


class _Merged(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def merge_expositions(texts: Sequence[str]) -> bytes:
    """The expositions in `texts` (Prometheus text format) as one, in the order families first appear."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.type == "gauge" and family.name.endswith("_created"):
                continue  # a counter's creation time, which the text format lists as a gauge of its own
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(family.name, family.documentation, family.type)
                values[family.name] = {}
            seen = values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                old = seen.get(key)
                seen[key] = sample.value if old is None else _combine(family.name, family.type, old, sample.value)
    out = []
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
        out.append(family)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(out))
    return generate_latest(registry)
