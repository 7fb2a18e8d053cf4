"""Health tracker: status thresholds, the sliding window, the decaying latency average, the /readyz snapshot."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunaroute.routing._health import HealthConfig, HealthStatus, HealthTracker, ProviderHealth


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def make(config: HealthConfig | None = None, providers: tuple[str, ...] = ()) -> tuple[HealthTracker, Clock]:
    clock = Clock()
    return HealthTracker(config, providers=providers, clock=clock), clock


def feed(tracker: HealthTracker, name: str, successes: int, failures: int, latency: float = 0.1) -> None:
    for _ in range(successes):
        tracker.record_success(name, latency)
    for _ in range(failures):
        tracker.record_failure(name, "status_500")


def test_defaults_match_the_reference() -> None:
    config = HealthConfig()
    assert (config.window_secs, config.min_requests) == (60.0, 10)
    assert (config.healthy_success_rate, config.unhealthy_success_rate) == (0.95, 0.75)


@pytest.mark.parametrize(
    "bad",
    [
        {"window_secs": 0},
        {"ewma_half_life_secs": 0},
        {"min_requests": 0},
        {"max_samples": 0},
        {"healthy_success_rate": 0.5, "unhealthy_success_rate": 0.6},
    ],
)
def test_config_rejects_unworkable_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        HealthConfig(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("successes", "failures", "status"),
    [
        (0, 0, HealthStatus.UNKNOWN),
        (9, 0, HealthStatus.UNKNOWN),
        (0, 9, HealthStatus.UNKNOWN),
        (10, 0, HealthStatus.HEALTHY),
        (95, 5, HealthStatus.HEALTHY),
        (94, 6, HealthStatus.DEGRADED),
        (75, 25, HealthStatus.DEGRADED),
        (74, 26, HealthStatus.UNHEALTHY),
        (0, 10, HealthStatus.UNHEALTHY),
    ],
)
def test_status_thresholds(successes: int, failures: int, status: HealthStatus) -> None:
    tracker, _ = make()
    feed(tracker, "up", successes, failures)
    assert tracker.status("up") is status


def test_unseen_provider_is_unknown() -> None:
    tracker, _ = make()
    assert tracker.status("nobody") is HealthStatus.UNKNOWN
    assert tracker.ewma_latency("nobody") is None
    assert tracker.snapshot() == {}


def test_window_slides() -> None:
    tracker, clock = make()
    feed(tracker, "up", 0, 20)
    assert tracker.status("up") is HealthStatus.UNHEALTHY
    clock.now += 30
    feed(tracker, "up", 20, 0)
    assert tracker.snapshot()["up"].requests == 40
    clock.now += 30  # the failures are now exactly window_secs old
    health = tracker.snapshot()["up"]
    assert (health.requests, health.success_rate, health.status) == (20, 1.0, HealthStatus.HEALTHY)
    clock.now += 31
    assert tracker.status("up") is HealthStatus.UNKNOWN


def test_max_samples_bounds_the_window() -> None:
    tracker, _ = make(HealthConfig(max_samples=50))
    feed(tracker, "up", 0, 100)
    feed(tracker, "up", 50, 0)
    health = tracker.snapshot()["up"]
    assert (health.requests, health.success_rate) == (50, 1.0)


def test_ewma_of_one_sample_and_of_a_burst() -> None:
    tracker, _ = make()
    tracker.record_success("up", 0.2)
    assert tracker.ewma_latency("up") == pytest.approx(0.2)
    tracker.record_success("up", 0.4)  # same instant: equal weights
    assert tracker.ewma_latency("up") == pytest.approx(0.3)


def test_ewma_half_life() -> None:
    tracker, clock = make(HealthConfig(ewma_half_life_secs=10))
    tracker.record_success("up", 1.0)
    clock.now += 10
    tracker.record_success("up", 0.0)
    # The older sample weighs half as much: (0.5 * 1 + 1 * 0) / 1.5
    assert tracker.ewma_latency("up") == pytest.approx(1 / 3)
    clock.now += 1000
    assert tracker.ewma_latency("up") == pytest.approx(1 / 3)  # reading does not change it
    tracker.record_success("up", 0.05)
    assert tracker.ewma_latency("up") == pytest.approx(0.05, abs=1e-9)  # old samples have decayed away


def test_ewma_follows_a_slowdown() -> None:
    tracker, clock = make(HealthConfig(ewma_half_life_secs=5))
    for _ in range(100):
        clock.now += 0.1
        tracker.record_success("up", 0.01)
    for _ in range(100):  # 10 s = two half-lives of slow answers
        clock.now += 0.1
        tracker.record_success("up", 0.5)
    value = tracker.ewma_latency("up")
    assert value is not None
    assert 0.3 < value < 0.5


def test_failures_do_not_move_the_latency_average() -> None:
    tracker, _ = make()
    tracker.record_success("up", 0.1)
    tracker.record_failure("up", "timeout")
    assert tracker.ewma_latency("up") == pytest.approx(0.1)
    assert tracker.snapshot()["up"].last_failure == "timeout"


def test_snapshot_percentiles_and_json() -> None:
    tracker, _ = make(providers=("a", "b"))
    for ms in range(1, 101):
        tracker.record_success("a", ms / 1000)
    tracker.record_failure("a", "status_503")
    snapshot = tracker.snapshot()
    assert set(snapshot) == {"a", "b"}
    a = snapshot["a"]
    assert a.requests == 101
    assert a.success_rate == pytest.approx(100 / 101)
    assert a.latency_p50_s == pytest.approx(0.050)
    assert a.latency_p95_s == pytest.approx(0.095)
    assert a.status is HealthStatus.HEALTHY
    assert snapshot["b"] == ProviderHealth(
        status=HealthStatus.UNKNOWN,
        requests=0,
        success_rate=None,
        latency_p50_s=None,
        latency_p95_s=None,
        ewma_latency_s=None,
        last_failure=None,
    )
    body = msgspec.json.decode(msgspec.json.encode(snapshot))
    assert body["a"]["status"] == "healthy"
    assert body["a"]["last_failure"] == "status_503"
    assert body["b"]["latency_p95_s"] is None


def test_snapshot_is_frozen() -> None:
    tracker, _ = make(providers=("a",))
    with pytest.raises(AttributeError):
        tracker.snapshot()["a"].requests = 3  # type: ignore[misc]


@given(st.lists(st.floats(min_value=0.0, max_value=600.0), min_size=1, max_size=50))
def test_ewma_stays_within_the_samples(latencies: list[float]) -> None:
    tracker, clock = make()
    for latency in latencies:
        clock.now += 0.7
        tracker.record_success("up", latency)
    value = tracker.ewma_latency("up")
    assert value is not None
    assert min(latencies) - 1e-9 <= value <= max(latencies) + 1e-9
    health = tracker.snapshot()["up"]
    assert health.latency_p50_s is not None
    assert health.latency_p95_s is not None
    assert health.latency_p50_s <= health.latency_p95_s
    assert not math.isnan(value)
