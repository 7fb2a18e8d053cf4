"""Scrape-time gauges: circuit breaker state, provider health, upstream pools, read from live state."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from lunaroute.recording._capture import Capture
from lunaroute.recording.worker._protocol import WorkerStats
from lunaroute.routing._breaker import BreakerState
from lunaroute.routing._health import HealthStatus
from lunaroute.routing._resilience import Resilience

__all__ = [
    "BREAKER_VALUES",
    "HEALTH_VALUES",
    "PoolCollector",
    "PoolSnapshot",
    "RecorderCollector",
    "ResilienceCollector",
]

BREAKER_VALUES = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}
HEALTH_VALUES = {
    HealthStatus.HEALTHY: 1.0,
    HealthStatus.DEGRADED: 0.5,
    HealthStatus.UNHEALTHY: 0.0,
    HealthStatus.UNKNOWN: -1.0,
}


class ResilienceCollector(Collector):
    """`lunaroute_breaker_state`, `lunaroute_provider_health`, `lunaroute_provider_success_rate`,
    `lunaroute_provider_in_flight`, computed when `/metrics` is scraped."""

    def __init__(self, resilience: Callable[[], Resilience]) -> None:
        self._resilience = resilience
        """The resilience state of the moment (a config reload replaces it)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        resilience = self._resilience()
        breaker = GaugeMetricFamily(
            "lunaroute_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["provider"]
        )
        health = GaugeMetricFamily(
            "lunaroute_provider_health",
            "Provider health: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown (too few requests).",
            labels=["provider"],
        )
        rate = GaugeMetricFamily(
            "lunaroute_provider_success_rate",
            "Share of successful upstream attempts in the window.",
            labels=["provider"],
        )
        busy = GaugeMetricFamily(
            "lunaroute_provider_in_flight", "Upstream calls in progress per provider.", labels=["provider"]
        )
        snapshot = resilience.health.snapshot()
        for name in resilience.policies:
            breaker.add_metric([name], BREAKER_VALUES[resilience.state(name)])
            busy.add_metric([name], float(resilience.in_flight.get(name)))
            entry = snapshot.get(name)
            if entry is not None:
                health.add_metric([name], HEALTH_VALUES[entry.status])
                if entry.requests and entry.success_rate is not None:
                    rate.add_metric([name], entry.success_rate)
        yield breaker
        yield health
        yield rate
        yield busy


class RecorderCounters(Protocol):
    """Where the recorder process's counters are read: its handle, or the supervisor's shared recorder."""

    @property
    def stats(self) -> WorkerStats: ...

    @property
    def restarts(self) -> int: ...


class RecorderCollector(Collector):
    """`lunaroute_recorder_*`: queue depths and event counts of the session recorder, read at scrape time.

    `capture` gives what this process journaled (exchanges begun, ended, sampled out, journal errors, the backlog
    the recorder has not read); `recorder` gives the recorder process's own counters. A single gateway process has
    both; with `serve --workers N` each worker reports its capture and the supervisor the one recorder, so that
    the aggregated `/metrics` counts each once.
    """

    def __init__(self, capture: Capture | None = None, recorder: RecorderCounters | None = None) -> None:
        self._capture = capture
        self._recorder = recorder

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        exchanges = CounterMetricFamily(
            "lunaroute_recorder_exchanges", "Exchanges handed to the recorder, by stage.", labels=["stage"]
        )
        capture = self._capture
        if capture is not None:
            backlog = GaugeMetricFamily(
                "lunaroute_recorder_journal_backlog_bytes",
                "Journal bytes the gateway wrote that the recorder process has not read yet.",
            )
            backlog.add_metric([], float(capture.backlog_bytes))
            journal_errors = CounterMetricFamily(
                "lunaroute_recorder_journal_errors", "Failed writes to the capture journal."
            )
            journal_errors.add_metric([], float(capture.stats.journal_errors))
            exchanges.add_metric(["begun"], float(capture.stats.begun))
            exchanges.add_metric(["ended"], float(capture.stats.ended))
            exchanges.add_metric(["sampled_out"], float(capture.stats.sampled_out))
            yield from (backlog, journal_errors)
        if self._recorder is not None:
            worker = self._recorder.stats
            exchanges.add_metric(["recorded"], float(worker.exchanges_recorded))
            exchanges.add_metric(["extraction_failed"], float(worker.extraction_failures))
            exchanges.add_metric(["interrupted"], float(worker.interrupted))
            yield from _recorder_families(worker, self._recorder.restarts)
        yield exchanges


def _recorder_families(worker: WorkerStats, restart_count: int) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """The recorder process's own counters."""
    queue = GaugeMetricFamily(
        "lunaroute_recorder_queue_depth", "Items waiting in the recorder, by stage.", labels=["stage"]
    )
    queue.add_metric(["events"], float(worker.recorder_queue))
    written = CounterMetricFamily(
        "lunaroute_recorder_events_written", "Session events written, by writer.", labels=["writer"]
    )
    failed = CounterMetricFamily(
        "lunaroute_recorder_events_failed",
        "Session events a writer failed to take directly (they went to its spool), by writer.",
        labels=["writer"],
    )
    for name, count in worker.events_written.items():
        written.add_metric([name], float(count))
    for name, count in worker.events_failed.items():
        failed.add_metric([name], float(count))
    spooled = CounterMetricFamily("lunaroute_recorder_events_spooled", "Session events put in a durable spool.")
    spooled.add_metric([], float(worker.events_spooled))
    lost = CounterMetricFamily(
        "lunaroute_recorder_events_lost", "Session events that reached neither their store nor a spool."
    )
    lost.add_metric([], float(worker.events_lost))
    restarts = CounterMetricFamily(
        "lunaroute_recorder_process_restarts", "Times the recorder process exited unexpectedly and was restarted."
    )
    restarts.add_metric([], float(restart_count))
    disk = GaugeMetricFamily(
        "lunaroute_recorder_disk_free_bytes", "Free space where each local store lives.", labels=["store"]
    )
    for name, free in worker.disk_free_bytes.items():
        disk.add_metric([name], float(free))
    runs = CounterMetricFamily("lunaroute_retention_runs", "Retention passes run.")
    runs.add_metric([], float(worker.retention_runs))
    removed = CounterMetricFamily(
        "lunaroute_retention_removed", "What retention removed or compressed, by kind.", labels=["kind"]
    )
    removed.add_metric(["files_deleted"], float(worker.retention_files_deleted))
    removed.add_metric(["files_compressed"], float(worker.retention_files_compressed))
    removed.add_metric(["sessions_deleted"], float(worker.retention_sessions_deleted))
    retention_errors = CounterMetricFamily("lunaroute_retention_errors", "Retention steps that failed.")
    retention_errors.add_metric([], float(worker.retention_errors))
    yield from (queue, written, failed, spooled, lost, restarts, disk, runs, removed, retention_errors)


class PoolSnapshot(NamedTuple):
    """One provider's upstream connection pool at a moment."""

    provider: str
    active: int
    """Connections carrying a request now."""
    idle: int
    """Open connections waiting for reuse."""
    opened: int
    """Connections opened since start."""
    reused: int
    """Requests that took an idle connection instead of opening one."""


class PoolCollector(Collector):
    """`lunaroute_upstream_pool_connections{provider,state}` and the opened/reused counters, read from the
    providers' pools when `/metrics` is scraped (providers with `enable_pool_metrics`)."""

    def __init__(self, snapshots: Callable[[], Iterable[PoolSnapshot]]) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        conns = GaugeMetricFamily(
            "lunaroute_upstream_pool_connections",
            "Open upstream connections per provider: active (carrying a request) or idle (kept for reuse).",
            labels=["provider", "state"],
        )
        opened = CounterMetricFamily(
            "lunaroute_upstream_pool_connections_opened", "Upstream connections opened.", labels=["provider"]
        )
        reused = CounterMetricFamily(
            "lunaroute_upstream_pool_connections_reused",
            "Upstream requests sent on a kept-alive connection.",
            labels=["provider"],
        )
        snapshots = list(self._snapshots())
        if not snapshots:
            return  # no provider has enable_pool_metrics: no pool series at all
        for snap in snapshots:
            conns.add_metric([snap.provider, "active"], float(snap.active))
            conns.add_metric([snap.provider, "idle"], float(snap.idle))
            opened.add_metric([snap.provider], float(snap.opened))
            reused.add_metric([snap.provider], float(snap.reused))
        yield from (conns, opened, reused)
