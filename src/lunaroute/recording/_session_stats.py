"""Per-session totals kept in memory for the shutdown summary (`session_stats_max_sessions`, as in the Rust
LunaRoute): the most recently active sessions, least recently active evicted first."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = ["SessionStats", "SessionTotals"]

_log = logging.getLogger("lunaroute.sessions")


@dataclass(slots=True)
class SessionTotals:
    requests: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    duration_ms: float = 0.0
    models: set[str] = field(default_factory=set)


class SessionStats:
    """Totals of at most `max_sessions` sessions; `add` once per finished exchange, `log_summary` at shutdown."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, SessionTotals] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def add(
        self,
        session_id: str,
        *,
        model: str | None,
        ok: bool,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float | None = None,
        duration_ms: float | None = None,
    ) -> None:
        if self.max_sessions <= 0:
            return
        totals = self._sessions.pop(session_id, None) or SessionTotals()
        self._sessions[session_id] = totals
        if len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
            self.evicted += 1
        totals.requests += 1
        totals.failed += 0 if ok else 1
        totals.input_tokens += input_tokens
        totals.output_tokens += output_tokens
        totals.cost_usd += cost_usd or 0.0
        totals.duration_ms += duration_ms or 0.0
        if model:
            totals.models.add(model)

    def items(self) -> list[tuple[str, SessionTotals]]:
        """(session id, totals), most recently active first."""
        return list(reversed(self._sessions.items()))

    def log_summary(self) -> None:
        """One line for the run, then one per tracked session (nothing when no session was seen)."""
        if not self._sessions:
            return
        sessions = self.items()
        _log.info(
            "session summary: %d session(s)%s, %d request(s), %d input and %d output tokens",
            len(sessions),
            f" (and {self.evicted} older not shown)" if self.evicted else "",
            sum(t.requests for _, t in sessions),
            sum(t.input_tokens for _, t in sessions),
            sum(t.output_tokens for _, t in sessions),
        )
        for sid, t in sessions:
            _log.info(
                "session %s: %d request(s) (%d failed), %d input / %d output tokens, $%.4f, %.0f ms, models %s",
                sid,
                t.requests,
                t.failed,
                t.input_tokens,
                t.output_tokens,
                t.cost_usd,
                t.duration_ms,
                ", ".join(sorted(t.models)) or "-",
            )
