"""The `SessionStore` Protocol: the read side of session recording, and its two errors."""

from __future__ import annotations

from typing import Protocol

from lunaroute.recording.query._models import (
    ActivityBucket,
    ClientUsage,
    CostStats,
    HourOfDay,
    KeyUsage,
    ModelLatency,
    ModelUsage,
    Order,
    OverviewStats,
    SessionDetail,
    SessionFilter,
    SessionPage,
    SessionToolStats,
    SortKey,
    SpendingStats,
    StatusCount,
    TimelinePage,
    TokensPerDay,
    ToolUsage,
)

__all__ = ["MAX_PAGE", "SessionStore", "StoreUnavailable"]

MAX_PAGE = 1000
"""The largest `limit` a store accepts; bigger values are clamped to it."""


class StoreUnavailable(RuntimeError):
    """The store cannot be read (no database file, not a session database, I/O error)."""


class SessionStore(Protocol):
    """Read access to recorded sessions (SQLite or PostgreSQL).

    Contract:
    - Every method is safe to call concurrently from the event loop and never blocks it.
    - Session ids that `is_valid_session_id` rejects are treated as unknown (`None` / `False`), never queried.
    - `offset` below 0 counts as 0, `limit` is clamped to `1..MAX_PAGE`; `hours` and `days` to at least 1.
    - Filter values are data, bound as parameters: no value changes the shape of a query.
    - Raises `StoreUnavailable` when the store cannot be read at all.
    """

    async def list_sessions(
        self,
        flt: SessionFilter,
        *,
        offset: int = 0,
        limit: int = 50,
        sort: SortKey = "started",
        descending: bool = True,
    ) -> SessionPage:
        """Sessions matching `flt`, newest `started_at` first."""
        ...

    async def get_session(self, session_id: str) -> SessionDetail | None: ...

    async def timeline(
        self, session_id: str, *, offset: int = 0, limit: int = 20, order: Order = "asc"
    ) -> TimelinePage | None:
        """The session's requests in recording order (`asc`) or reversed; `None` for an unknown session."""
        ...

    async def session_tools(self, session_id: str) -> SessionToolStats | None: ...

    async def overview(self, hours: int = 24) -> OverviewStats: ...

    async def tokens_per_day(self, days: int = 7) -> tuple[TokensPerDay, ...]:
        """One entry per UTC day with requests in the last `days` days, oldest first."""
        ...

    async def tool_usage(self, limit: int = 50) -> tuple[ToolUsage, ...]:
        """Tools by call count, most used first."""
        ...

    async def model_usage(self, hours: int = 24, user_agent: str | None = None) -> tuple[ModelUsage, ...]: ...

    async def client_usage(self, hours: int = 24, limit: int = 10) -> tuple[ClientUsage, ...]:
        """Clients (session user agents) by requests in the last `hours`, busiest first, at most `limit`."""
        ...

    async def key_usage(self, hours: int = 24) -> tuple[KeyUsage, ...]:
        """Requests, tokens and cost per gateway key (with its team) in the last `hours`, busiest first."""
        ...

    async def cost_stats(self) -> CostStats: ...

    async def spending(self, hours: int = 24) -> SpendingStats: ...

    async def latency_by_model(self, hours: int = 24) -> tuple[ModelLatency, ...]:
        """p50 and p95 request duration per model in the last `hours`, busiest model first."""
        ...

    async def errors_by_status(self, hours: int = 24) -> tuple[StatusCount, ...]:
        """Failed requests of the last `hours` by HTTP status, commonest first."""
        ...

    async def activity(self, hours: int = 1, minutes: int = 1) -> tuple[ActivityBucket, ...]:
        """Requests of the last `hours` in buckets of `minutes` (a divisor of 60), oldest first; empty buckets
        are left out."""
        ...

    async def hours_of_day(self, hours: int = 24 * 7) -> tuple[HourOfDay, ...]: ...

    async def user_agents(self) -> tuple[str, ...]:
        """Distinct user agents, most frequent first."""
        ...

    async def models(self) -> tuple[str, ...]:
        """Distinct model names (requested, used, or of a request), sorted."""
        ...

    async def delete_session(self, session_id: str) -> bool:
        """Delete the session and its child rows; False when it did not exist. The one writing method."""
        ...

    async def close(self) -> None: ...
