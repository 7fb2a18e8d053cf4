"""The tool-call tracker: attribution, the execution-time estimate, TTL and LRU bounds."""

from __future__ import annotations

import pytest

from lunaroute.recording.extract import SessionTracker, ToolCallSeen


def test_remember_and_lookup() -> None:
    tracker = SessionTracker()
    tracker.remember("s1", "toolu_1", "Bash", 100.0)
    assert tracker.lookup("s1", "toolu_1", 101.0) == ToolCallSeen("Bash", 100.0)
    assert tracker.lookup("s2", "toolu_1", 101.0) is None
    assert tracker.lookup("s1", "toolu_2", 101.0) is None
    # A hit does not consume the call: a retried request carries the same results.
    assert tracker.lookup("s1", "toolu_1", 102.0) is not None


def test_estimate_is_result_arrival_minus_response_end() -> None:
    seen = ToolCallSeen("Bash", 100.0)
    assert SessionTracker.estimate_ms(seen, 102.3456) == 2346
    assert SessionTracker.estimate_ms(seen, 99.0) == 0  # clocks out of order never give a negative time


def test_ttl_forgets_old_calls() -> None:
    tracker = SessionTracker(ttl_s=60)
    tracker.remember("s1", "a", "Read", 1000.0)
    assert tracker.lookup("s1", "a", 1060.0) is not None
    assert tracker.lookup("s1", "a", 1060.5) is None
    # Remembering anything later than the TTL drops whole idle sessions.
    tracker.remember("s2", "b", "Edit", 1200.0)
    assert len(tracker) == 1


def test_lru_bounds_sessions() -> None:
    tracker = SessionTracker(max_sessions=2)
    tracker.remember("s1", "a", "A", 1.0)
    tracker.remember("s2", "b", "B", 2.0)
    assert tracker.lookup("s1", "a", 3.0) is not None  # s1 is now the most recently used
    tracker.remember("s3", "c", "C", 4.0)
    assert len(tracker) == 2
    assert tracker.lookup("s2", "b", 5.0) is None
    assert tracker.lookup("s1", "a", 5.0) is not None
    assert tracker.lookup("s3", "c", 5.0) is not None


def test_calls_per_session_bounded() -> None:
    tracker = SessionTracker(max_calls_per_session=3)
    for i in range(5):
        tracker.remember("s", f"id{i}", "T", float(i))
    assert [tracker.lookup("s", f"id{i}", 10.0) is not None for i in range(5)] == [False, False, True, True, True]


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionTracker(max_sessions=0)
    with pytest.raises(ValueError, match="positive"):
        SessionTracker(ttl_s=0)
