"""Circuit breaker: thresholds, cool-down, half-open probes, and interleaved concurrent callers."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunaroute.routing._breaker import BreakerConfig, BreakerState, CircuitBreaker

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
Transition = tuple[str, BreakerState, BreakerState, str]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    config: BreakerConfig | None = None,
) -> tuple[CircuitBreaker, Clock, list[Transition]]:
    clock = Clock()
    seen: list[Transition] = []
    breaker = CircuitBreaker("up", config, clock=clock, on_transition=lambda *args: seen.append(args))
    return breaker, clock, seen


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.config.failure_threshold):
        assert breaker.allow()
        breaker.record_failure("status_503")


def test_defaults() -> None:
    config = BreakerConfig()
    assert (config.failure_threshold, config.success_threshold, config.cooldown_secs) == (5, 2, 30.0)
    assert (config.half_open_max_probes, config.window_secs) == (1, 60.0)
    assert (config.failure_rate_threshold, config.min_requests) == (0.5, 20)


@pytest.mark.parametrize(
    "bad",
    [
        {"failure_threshold": 0},
        {"success_threshold": 0},
        {"half_open_max_probes": 0},
        {"min_requests": 0},
        {"cooldown_secs": -1},
        {"window_secs": 0},
        {"failure_rate_threshold": 0.0},
        {"failure_rate_threshold": 1.5},
    ],
)
def test_config_rejects_unworkable_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        BreakerConfig(**bad)  # type: ignore[arg-type]


def test_opens_after_consecutive_failures() -> None:
    breaker, _, seen = make()
    for _ in range(4):
        breaker.record_failure("timeout")
    assert breaker.state is CLOSED
    breaker.record_failure("connect_error")
    assert breaker.state is OPEN
    assert breaker.last_failure == "connect_error"
    assert seen == [("up", CLOSED, OPEN, "consecutive_failures")]
    assert not breaker.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    breaker, _, _ = make(BreakerConfig(min_requests=1000))
    for _ in range(10):
        for _ in range(4):
            breaker.record_failure("timeout")
        breaker.record_success(0.1)
    assert breaker.state is CLOSED


def test_opens_on_failure_rate_once_min_requests_were_seen() -> None:
    # Two failures per success never makes five in a row, but is a 2/3 failure rate.
    breaker, clock, seen = make()
    outcomes = [False, True, True] * 10
    for index, failed in enumerate(outcomes):
        clock.now += 0.5
        if failed:
            breaker.record_failure("status_500")
        else:
            breaker.record_success(0.1)
        if index + 1 < 20:
            assert breaker.state is CLOSED, index
        if breaker.state is OPEN:
            break
    assert index + 1 == 20  # the 20th request (a failure) is the first with min_requests seen
    assert seen == [("up", CLOSED, OPEN, "failure_rate")]


def test_rate_at_the_threshold_does_not_open() -> None:
    breaker, _, _ = make(BreakerConfig(min_requests=4, failure_threshold=100))
    for _ in range(10):
        breaker.record_success(0.1)
        breaker.record_failure("status_500")
    assert breaker.state is CLOSED  # exactly 0.5, not over it


def test_old_failures_leave_the_window() -> None:
    breaker, clock, _ = make(BreakerConfig(min_requests=10, failure_threshold=100, window_secs=60))
    for _ in range(9):
        breaker.record_failure("status_500")
    clock.now += 61
    for _ in range(9):
        breaker.record_success(0.1)
    breaker.record_failure("status_500")
    assert breaker.state is CLOSED  # 1 failure in 10 within the window


def test_cooldown_then_half_open_then_closed() -> None:
    breaker, clock, seen = make()
    trip(breaker)
    clock.now += 29.9
    assert not breaker.allow()
    assert breaker.state is OPEN
    clock.now += 0.1
    assert breaker.allow()  # the one probe
    assert breaker.state is HALF_OPEN
    assert not breaker.allow()
    breaker.record_success(0.2)
    assert breaker.state is HALF_OPEN
    assert breaker.allow()  # the slot is free again
    breaker.record_success(0.2)
    assert breaker.state is CLOSED
    assert [(old, new, why) for _, old, new, why in seen] == [
        (CLOSED, OPEN, "consecutive_failures"),
        (OPEN, HALF_OPEN, "cooldown_elapsed"),
        (HALF_OPEN, CLOSED, "probes_succeeded"),
    ]
    # Closing starts afresh: it takes a full threshold of failures to open again.
    for _ in range(4):
        breaker.record_failure("timeout")
    assert breaker.state is CLOSED


def test_reading_state_moves_an_expired_open_breaker_to_half_open() -> None:
    breaker, clock, seen = make()
    trip(breaker)
    clock.now += 30
    assert breaker.state is HALF_OPEN
    assert seen[-1] == ("up", OPEN, HALF_OPEN, "cooldown_elapsed")


def test_a_failed_probe_reopens_and_restarts_the_cooldown() -> None:
    breaker, clock, seen = make()
    trip(breaker)
    clock.now += 30
    assert breaker.allow()
    clock.now += 5
    breaker.record_failure("timeout")
    assert breaker.state is OPEN
    assert seen[-1] == ("up", HALF_OPEN, OPEN, "probe_failed")
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_release_frees_the_probe_without_counting() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.now += 30
    assert breaker.allow()
    assert not breaker.allow()
    breaker.release()
    assert breaker.state is HALF_OPEN
    assert breaker.allow()
    breaker.record_success(0.1)
    assert breaker.state is HALF_OPEN  # one success of the two needed


def test_results_while_open_are_ignored() -> None:
    breaker, clock, seen = make()
    trip(breaker)
    clock.now += 20
    breaker.record_failure("timeout")  # a request admitted before the breaker opened
    breaker.record_success(0.1)
    breaker.release()
    clock.now += 10
    assert breaker.allow()  # the cool-down was not restarted
    assert len(seen) == 2


def test_release_outside_half_open_is_a_no_op() -> None:
    breaker, _, seen = make()
    breaker.release()
    assert breaker.state is CLOSED
    assert seen == []


def test_without_a_hook() -> None:
    breaker = CircuitBreaker("up", BreakerConfig(failure_threshold=1), clock=lambda: 0.0)
    breaker.record_failure("timeout")
    assert breaker.state is OPEN


@pytest.mark.parametrize("max_probes", [1, 3])
async def test_concurrent_requests_against_half_open_admit_exactly_max_probes(max_probes: int) -> None:
    breaker, clock, _ = make(BreakerConfig(half_open_max_probes=max_probes, success_threshold=100))
    trip(breaker)
    clock.now += 30
    barrier = asyncio.Barrier(100)

    async def request() -> bool:
        await barrier.wait()
        admitted = breaker.allow()
        await asyncio.sleep(0)  # the upstream call, interleaved with the other tasks
        if admitted:
            breaker.record_success(0.01)
        return admitted

    results = await asyncio.gather(*(request() for _ in range(100)))
    assert sum(results) == max_probes
    assert breaker.state is HALF_OPEN


async def test_concurrent_failures_open_once() -> None:
    breaker, _, seen = make()
    barrier = asyncio.Barrier(100)

    async def request() -> bool:
        await barrier.wait()
        admitted = breaker.allow()
        await asyncio.sleep(0)
        if admitted:
            breaker.record_failure("status_503")
        return admitted

    results = await asyncio.gather(*(request() for _ in range(100)))
    assert all(results)  # every request was admitted before any failure came back
    assert seen == [("up", CLOSED, OPEN, "consecutive_failures")]


async def test_concurrent_probes_close_the_breaker_once() -> None:
    breaker, clock, seen = make(BreakerConfig(half_open_max_probes=2, success_threshold=2))
    trip(breaker)
    clock.now += 30
    barrier = asyncio.Barrier(50)

    async def request() -> bool:
        await barrier.wait()
        admitted = breaker.allow()
        await asyncio.sleep(0)
        if admitted:
            breaker.record_success(0.01)
        return admitted

    results = await asyncio.gather(*(request() for _ in range(50)))
    assert sum(results) == 2
    assert breaker.state is CLOSED
    assert [new for _, _, new, _ in seen].count(CLOSED) == 1


_ALLOWED = {
    (CLOSED, OPEN),
    (OPEN, HALF_OPEN),
    (HALF_OPEN, CLOSED),
    (HALF_OPEN, OPEN),
}

_ops = st.lists(
    st.tuples(st.sampled_from(["allow", "allow", "success", "failure", "release", "tick"]), st.integers(0, 50)),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(ops=_ops, max_probes=st.integers(1, 3), threshold=st.integers(1, 4), tripped=st.booleans())
def test_random_histories_respect_the_state_machine(
    ops: list[tuple[str, int]], max_probes: int, threshold: int, tripped: bool
) -> None:
    """Valid transitions only; OPEN admits nothing until the cool-down ends; HALF_OPEN admits at most
    `half_open_max_probes` of its own probes at once, plus one per slot freed by an earlier request's result."""
    config = BreakerConfig(
        failure_threshold=threshold, success_threshold=2, half_open_max_probes=max_probes, min_requests=3
    )
    breaker, clock, seen = make(config)
    outstanding: list[int | None] = []  # admitted requests: the half-open episode they probe, or None
    episode = stale = absorbed = 0
    opened_at = clock.now

    def absorb() -> None:
        nonlocal episode, stale, absorbed, opened_at
        for _, _, new, _ in seen[absorbed:]:
            if new is OPEN:
                opened_at = clock.now
            elif new is HALF_OPEN:
                assert clock.now - opened_at >= config.cooldown_secs
                episode, stale = episode + 1, 0
        absorbed = len(seen)

    if tripped:  # start at the end of a cool-down, to spend more of the run in HALF_OPEN
        while breaker.state is CLOSED:
            breaker.record_failure("timeout")
        absorb()
        clock.now += config.cooldown_secs
    for op, number in ops:
        state = breaker.state
        absorb()
        if state is OPEN:
            assert clock.now - opened_at < config.cooldown_secs
        if op == "tick":
            clock.now += number
        elif op == "allow":
            admitted = breaker.allow()
            assert admitted is (state is not OPEN) or state is HALF_OPEN
            if admitted:
                outstanding.append(episode if state is HALF_OPEN else None)
            if state is HALF_OPEN:
                assert sum(1 for tag in outstanding if tag == episode) <= max_probes + stale
        else:
            if not outstanding:  # a request that starts and ends between two other events
                if not breaker.allow():
                    continue
                outstanding.append(episode if state is HALF_OPEN else None)
            tag = outstanding.pop(number % len(outstanding))
            if state is HALF_OPEN and tag != episode:
                stale += 1
            if op == "success":
                breaker.record_success(0.1)
            elif op == "failure":
                breaker.record_failure("timeout")
            else:
                breaker.release()
        absorb()
    previous = CLOSED
    for provider, old, new, _ in seen:
        assert provider == "up"
        assert old is previous
        assert (old, new) in _ALLOWED
        previous = new
    assert breaker.state in (previous, HALF_OPEN)


def test_window_memory_does_not_grow_with_traffic() -> None:
    breaker, clock, _ = make(BreakerConfig(min_requests=10**9))
    for _ in range(20_000):
        clock.now += 0.01
        breaker.record_success(0.01)
    assert len(breaker._window._buckets) <= 61
    assert breaker._window.requests <= 6_100
