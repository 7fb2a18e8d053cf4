"""`merge_expositions`: the processes of `serve --workers N` reported as one gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lunaroute.observability._merge import merge_expositions


def exposition(requests: int, in_flight: int, breaker: float, health: float, latency: list[float]) -> str:
    registry = CollectorRegistry()
    Counter("lunaroute_requests", "Requests.", ["status"], registry=registry).labels("200").inc(requests)
    Gauge("lunaroute_requests_in_flight", "In flight.", registry=registry).set(in_flight)
    Gauge("lunaroute_breaker_state", "Breaker.", ["provider"], registry=registry).labels("a").set(breaker)
    Gauge("lunaroute_provider_health", "Health.", ["provider"], registry=registry).labels("a").set(health)
    histogram = Histogram("lunaroute_latency_seconds", "Latency.", registry=registry, buckets=(0.1, 1.0))
    for value in latency:
        histogram.observe(value)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_histograms_and_gauges_are_summed_and_worker_states_take_the_worst() -> None:
    merged = merge_expositions([exposition(3, 1, 0.0, 1.0, [0.05, 0.5]), exposition(4, 2, 2.0, 0.5, [2.0])]).decode()
    got = samples(merged)
    assert got[("lunaroute_requests_total", (("status", "200"),))] == 7
    assert got[("lunaroute_requests_in_flight", ())] == 3
    assert got[("lunaroute_breaker_state", (("provider", "a"),))] == 2  # open in one worker: open
    assert got[("lunaroute_provider_health", (("provider", "a"),))] == 0.5  # the worst worker's
    assert got[("lunaroute_latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert got[("lunaroute_latency_seconds_bucket", (("le", "1.0"),))] == 2
    assert got[("lunaroute_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("lunaroute_latency_seconds_count", ())] == 3
    assert got[("lunaroute_latency_seconds_sum", ())] == 2.55
    assert "_created" not in merged
    assert "# TYPE lunaroute_requests_total counter" in merged


def test_a_family_only_some_processes_have_is_kept() -> None:
    registry = CollectorRegistry()
    Counter("lunaroute_worker_restarts", "Restarts.", registry=registry).inc()
    merged = merge_expositions([exposition(1, 0, 0.0, 1.0, []), generate_latest(registry).decode()]).decode()
    got = samples(merged)
    assert got[("lunaroute_worker_restarts_total", ())] == 1
    assert got[("lunaroute_requests_total", (("status", "200"),))] == 1
