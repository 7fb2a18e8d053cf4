"""Balancing strategies: distributions, ordering rules, stickiness with TTL and LRU bounds."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunaroute.routing._strategies import (
    InFlight,
    LatencyAwareStrategy,
    LeastBusyStrategy,
    PriorityStrategy,
    RoundRobinStrategy,
    StickyStrategy,
    Strategy,
    WeightedRoundRobinStrategy,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def primaries(strategy: Strategy, candidates: Sequence[str], picks: int) -> Counter[str]:
    return Counter(strategy.order(candidates)[0] for _ in range(picks))


def test_priority_keeps_the_configured_order() -> None:
    assert PriorityStrategy().order(["a", "b", "c"], session_id="s") == ["a", "b", "c"]


def test_round_robin_rotates_and_is_even() -> None:
    strategy = RoundRobinStrategy()
    assert [strategy.order(["a", "b", "c"]) for _ in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]
    assert primaries(RoundRobinStrategy(), ["a", "b", "c"], 3000) == {"a": 1000, "b": 1000, "c": 1000}


def test_round_robin_copes_with_a_shrinking_list() -> None:
    strategy = RoundRobinStrategy()
    strategy.order(["a", "b", "c"])
    strategy.order(["a", "b", "c"])
    assert strategy.order(["a", "b"]) in (["a", "b"], ["b", "a"])
    assert strategy.order([]) == []


def test_weighted_round_robin_is_exact_and_smooth() -> None:
    strategy = WeightedRoundRobinStrategy({"a": 3, "b": 1})
    assert [strategy.order(["a", "b"])[0] for _ in range(8)] == list("aabaaaba")
    assert primaries(WeightedRoundRobinStrategy({"a": 3, "b": 1}), ["a", "b"], 4000) == {"a": 3000, "b": 1000}


def test_weighted_round_robin_nginx_sequence() -> None:
    # The example of nginx's smooth weighted round robin: weights 5, 1, 1.
    strategy = WeightedRoundRobinStrategy({"a": 5, "b": 1, "c": 1})
    assert "".join(strategy.order(["a", "b", "c"])[0] for _ in range(7)) == "aabacaa"


def test_weighted_fallbacks_stay_in_configured_order() -> None:
    strategy = WeightedRoundRobinStrategy({"a": 1, "b": 1, "c": 1})
    assert [strategy.order(["a", "b", "c"]) for _ in range(3)] == [
        ["a", "b", "c"],
        ["b", "a", "c"],
        ["c", "a", "b"],
    ]


def test_weight_zero_is_a_fallback_only() -> None:
    strategy = WeightedRoundRobinStrategy({"a": 2, "spare": 0})
    assert primaries(strategy, ["a", "spare"], 100) == {"a": 100}
    assert strategy.order(["a", "spare"]) == ["a", "spare"]
    assert WeightedRoundRobinStrategy({"x": 0}).order(["x"]) == ["x"]


def test_weighted_default_weight_and_validation() -> None:
    assert primaries(WeightedRoundRobinStrategy({"a": 2}), ["a", "b"], 300) == {"a": 200, "b": 100}
    with pytest.raises(ValueError):  # noqa: PT011
        WeightedRoundRobinStrategy({"a": -1})


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 7), min_size=1), st.integers(1, 4))
def test_weighted_any_full_cycle_matches_the_weights(weights: dict[str, int], cycles: int) -> None:
    names = sorted(weights)
    total = sum(weights.values())
    strategy = WeightedRoundRobinStrategy(weights)
    if total == 0:
        assert strategy.order(names) == names
        return
    counts = primaries(strategy, names, total * cycles)
    assert {name: counts[name] for name in names} == {name: weights[name] * cycles for name in names}


def test_in_flight_counter() -> None:
    counter = InFlight()
    counter.acquire("a")
    counter.acquire("a")
    counter.release("a")
    assert counter.get("a") == 1
    counter.release("a")
    counter.release("a")  # ignored, never negative
    assert counter.get("a") == 0
    assert counter.get("never") == 0


def test_least_busy_follows_the_counter() -> None:
    counter = InFlight()
    strategy = LeastBusyStrategy(counter.get)
    assert strategy.order(["a", "b", "c"]) == ["a", "b", "c"]  # ties: configured order
    counter.acquire("a")
    assert strategy.order(["a", "b", "c"]) == ["b", "c", "a"]
    counter.acquire("b")
    counter.acquire("b")
    assert strategy.order(["a", "b", "c"]) == ["c", "a", "b"]


def test_least_busy_spreads_concurrent_requests() -> None:
    counter = InFlight()
    strategy = LeastBusyStrategy(counter.get)
    for _ in range(9):
        counter.acquire(strategy.order(["a", "b", "c"])[0])
    assert [counter.get(name) for name in "abc"] == [3, 3, 3]


def latency_of(table: dict[str, float | None]) -> Callable[[str], float | None]:
    return table.get


def test_p2c_prefers_the_faster_provider() -> None:
    strategy = LatencyAwareStrategy(latency_of({"slow": 0.100, "fast": 0.010}), random.Random(1))
    counts = primaries(strategy, ["slow", "fast"], 1000)
    assert counts["fast"] >= 800


def test_p2c_over_several_providers() -> None:
    table: dict[str, float | None] = {"a": 0.010, "b": 0.050, "c": 0.100, "d": 0.200}
    counts = primaries(LatencyAwareStrategy(latency_of(table), random.Random(7)), list(table), 6000)
    # P2C: the fastest wins every draw it is in (1/2 of draws); the slowest never wins.
    assert counts["a"] == pytest.approx(3000, rel=0.1)
    assert counts["b"] > counts["c"] > 0
    assert counts["d"] == 0


def test_p2c_tries_unknown_latency_first() -> None:
    strategy = LatencyAwareStrategy(latency_of({"known": 0.010, "new": None}), random.Random(3))
    assert primaries(strategy, ["known", "new"], 50) == {"new": 50}


def test_p2c_keeps_fallbacks_in_order_and_handles_short_lists() -> None:
    strategy = LatencyAwareStrategy(latency_of({"a": 0.5, "b": 0.5, "c": 0.001}), random.Random(0))
    for _ in range(50):
        ordered = strategy.order(["a", "b", "c"])
        assert [name for name in ["a", "b", "c"] if name != ordered[0]] == ordered[1:]
    assert strategy.order(["a"]) == ["a"]
    assert strategy.order([]) == []


def test_sticky_keeps_a_session_on_its_provider() -> None:
    strategy = StickyStrategy(RoundRobinStrategy(), ttl_secs=60, clock=Clock())
    first = strategy.order(["a", "b", "c"], session_id="s1")
    for _ in range(20):
        assert strategy.order(["a", "b", "c"], session_id="s1")[0] == first[0]
    others = Counter(strategy.order(["a", "b", "c"], session_id=f"x{i}")[0] for i in range(30))
    assert len(others) == 3  # new sessions still go round


def test_sticky_passes_through_without_a_session() -> None:
    strategy = StickyStrategy(RoundRobinStrategy(), clock=Clock())
    assert [strategy.order(["a", "b"])[0] for _ in range(4)] == ["a", "b", "a", "b"]
    assert len(strategy) == 0


def test_sticky_expires_after_ttl_since_last_use() -> None:
    clock = Clock()
    strategy = StickyStrategy(RoundRobinStrategy(), ttl_secs=60, clock=clock)
    assert strategy.order(["a", "b"], session_id="s")[0] == "a"
    strategy.order(["a", "b"], session_id="other")  # moves the round robin on
    clock.now += 59
    assert strategy.order(["a", "b"], session_id="s")[0] == "a"  # used: the TTL restarts
    clock.now += 59
    assert strategy.order(["a", "b"], session_id="s")[0] == "a"
    clock.now += 60
    assert strategy.order(["a", "b"], session_id="s")[0] == "a"  # rebound by round robin
    assert len(strategy) == 1  # "other" expired long ago


def test_sticky_expiry_gives_a_fresh_choice() -> None:
    clock = Clock()
    strategy = StickyStrategy(WeightedRoundRobinStrategy({"a": 1, "b": 1}), ttl_secs=10, clock=clock)
    assert strategy.order(["a", "b"], session_id="s")[0] == "a"
    clock.now += 10
    assert strategy.order(["a", "b"], session_id="s")[0] == "b"


def test_sticky_is_lru_bounded() -> None:
    strategy = StickyStrategy(RoundRobinStrategy(), max_sessions=2, clock=Clock())
    assert strategy.order(["a", "b", "c"], session_id="s1")[0] == "a"
    assert strategy.order(["a", "b", "c"], session_id="s2")[0] == "b"
    assert strategy.order(["a", "b", "c"], session_id="s1")[0] == "a"  # s1 is now the most recent
    assert strategy.order(["a", "b", "c"], session_id="s3")[0] == "c"  # evicts s2
    assert len(strategy) == 2
    assert strategy.order(["a", "b", "c"], session_id="s1")[0] == "a"
    assert strategy.order(["a", "b", "c"], session_id="s2")[0] == "a"  # forgotten: a fresh round-robin pick


def test_sticky_falls_back_when_its_provider_is_missing() -> None:
    strategy = StickyStrategy(PriorityStrategy(), clock=Clock())
    assert strategy.order(["a", "b"], session_id="s") == ["a", "b"]
    assert strategy.order(["b", "c"], session_id="s") == ["b", "c"]  # a is out (e.g. breaker open)
    assert strategy.order(["a", "b", "c"], session_id="s") == ["b", "a", "c"]  # rebound to b
    assert strategy.order([], session_id="s") == []


def test_sticky_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        StickyStrategy(PriorityStrategy(), ttl_secs=0)
    with pytest.raises(ValueError):  # noqa: PT011
        StickyStrategy(PriorityStrategy(), max_sessions=0)


def every_strategy() -> list[Strategy]:
    counter = InFlight()
    counter.acquire("b")
    return [
        PriorityStrategy(),
        RoundRobinStrategy(),
        WeightedRoundRobinStrategy({"a": 3, "b": 1, "c": 0}),
        LeastBusyStrategy(counter.get),
        LatencyAwareStrategy({"a": 0.3, "b": 0.1}.get, random.Random(5)),
        StickyStrategy(RoundRobinStrategy(), max_sessions=3, clock=Clock()),
    ]


@given(
    st.lists(st.lists(st.sampled_from("abcdefg"), unique=True, max_size=6), max_size=20),
    st.lists(st.sampled_from([None, "s1", "s2", "s3", "s4"]), min_size=20, max_size=20),
)
def test_every_strategy_returns_a_permutation(calls: list[list[str]], sessions: list[str | None]) -> None:
    for strategy in every_strategy():
        for candidates, session in zip(calls, sessions, strict=False):
            ordered = strategy.order(candidates, session_id=session)
            assert sorted(ordered) == sorted(candidates)
