"""Shared counters for limits: in one process (memory) or across replicas (Redis), behind one interface."""

from lunaroute.state._checks import WINDOW_S, Check, CheckResult, Verdict
from lunaroute.state._memory import MemoryState
from lunaroute.state._redis import RedisState, StateUnavailable

__all__ = ["WINDOW_S", "Check", "CheckResult", "MemoryState", "RedisState", "StateUnavailable", "Verdict"]
