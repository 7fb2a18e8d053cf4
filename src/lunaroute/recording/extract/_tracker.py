"""Per-session memory of the tool calls a model made, so a later tool result can be attributed and timed."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._facts import RequestFacts

__all__ = ["SessionTracker", "ToolCallSeen"]


@dataclass(frozen=True, slots=True)
class ToolCallSeen:
    """A tool call the client received: its tool and when (wall-clock seconds) the response carrying it ended."""

    tool_name: str
    sent_at: float


class _Session:
    __slots__ = ("calls", "touched_at")

    def __init__(self, touched_at: float) -> None:
        self.calls: OrderedDict[str, ToolCallSeen] = OrderedDict()
        self.touched_at = touched_at


class SessionTracker:
    """Bounded memory of tool calls per session: tool_use id → (tool name, time it reached the client).

    Bounds: at most `max_sessions` sessions (the least recently used is forgotten first) and
    `max_calls_per_session` calls per session (the oldest first); a call older than `ttl_s` seconds is
    forgotten too. Time is the exchanges' own wall clock (`ExchangeRecord.started_at` and offsets), never
    read here, so the tracker is deterministic. Safe to share between threads.

    The execution time `estimate_ms` gives is an *estimate*: the time between the response carrying the
    tool call finishing and the request carrying its result arriving. It includes the client's own work
    (and any time a human took to approve the call), and nothing the gateway cannot see.

    It also carries what the start of an exchange read from its request to the end of that exchange
    (`keep_request` / `take_request`), for at most `max_open_requests` exchanges (the oldest is forgotten first;
    0 keeps none). Whether the facts are used or read again changes no event, only the work done.
    """

    def __init__(
        self,
        *,
        max_sessions: int = 4096,
        max_calls_per_session: int = 1024,
        ttl_s: float = 3600.0,
        max_open_requests: int = 4096,
    ) -> None:
        if max_sessions < 1 or max_calls_per_session < 1 or ttl_s <= 0 or max_open_requests < 0:
            raise ValueError("SessionTracker bounds must be positive")
        self.max_sessions = max_sessions
        self.max_calls_per_session = max_calls_per_session
        self.ttl_s = ttl_s
        self.max_open_requests = max_open_requests
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._requests: dict[str, RequestFacts] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """The number of sessions remembered."""
        return len(self._sessions)

    def remember(self, session_id: str, call_id: str, tool_name: str, sent_at: float) -> None:
        """Note that the response ending at `sent_at` carried tool call `call_id` of `tool_name`."""
        with self._lock:
            self._expire(sent_at)
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = _Session(sent_at)
            session.touched_at = max(session.touched_at, sent_at)
            self._sessions.move_to_end(session_id)
            session.calls[call_id] = ToolCallSeen(tool_name, sent_at)
            session.calls.move_to_end(call_id)
            while len(session.calls) > self.max_calls_per_session:
                session.calls.popitem(last=False)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def lookup(self, session_id: str, call_id: str, now: float) -> ToolCallSeen | None:
        """The call `call_id` of `session_id`, unless unknown or older than `ttl_s` at `now`.

        A hit keeps the call (a retried request carries the same results) and marks the session used.
        """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            seen = session.calls.get(call_id)
            if seen is None or now - seen.sent_at > self.ttl_s:
                return None
            session.touched_at = max(session.touched_at, now)
            self._sessions.move_to_end(session_id)
            return seen

    def keep_request(self, request_id: str, facts: RequestFacts) -> None:
        """Keep `facts` of the exchange `request_id` until `take_request` (called when it starts)."""
        if self.max_open_requests == 0:
            return
        with self._lock:
            self._requests.pop(request_id, None)
            self._requests[request_id] = facts
            while len(self._requests) > self.max_open_requests:
                del self._requests[next(iter(self._requests))]

    def take_request(self, request_id: str) -> RequestFacts | None:
        """The facts kept for the exchange `request_id`, forgotten here (called when it ends)."""
        with self._lock:
            return self._requests.pop(request_id, None)

    @staticmethod
    def estimate_ms(seen: ToolCallSeen, result_arrived_at: float) -> int | None:
        """Estimated execution time of `seen` whose result arrived at `result_arrived_at`: never negative,
        None when either instant is not a real time."""
        elapsed = (result_arrived_at - seen.sent_at) * 1000
        return max(0, round(elapsed)) if math.isfinite(elapsed) else None

    def _expire(self, now: float) -> None:
        # Sessions are in least-recently-touched order, so expired ones are at the front.
        while self._sessions:
            session_id, session = next(iter(self._sessions.items()))
            if now - session.touched_at <= self.ttl_s:
                break
            del self._sessions[session_id]
