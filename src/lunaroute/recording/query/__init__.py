"""The read side of session recording: the `SessionStore` queries, raw JSONL events, and exports.

`SqliteSessionStore` reads a schema-v5 `sessions.db`, `PostgresSessionStore` the PostgreSQL session schema
(`open_store` picks one from a path or URL); `JsonlArchive` reads the raw events of a session from
the JSONL tree; `export` turns either into JSONL, JSON or CSV.
"""

from lunaroute.recording.query._models import (
    SORT_KEYS,
    ActivityBucket,
    AttemptRow,
    ClientUsage,
    CostStats,
    HourOfDay,
    KeyUsage,
    ModelLatency,
    ModelSpending,
    ModelUsage,
    Order,
    OverviewStats,
    PriceFn,
    RequestRow,
    SessionDetail,
    SessionFilter,
    SessionPage,
    SessionSummary,
    SessionToolStats,
    SortKey,
    SpendingHour,
    SpendingStats,
    StatusCount,
    StreamMetricRow,
    TimelineEntry,
    TimelinePage,
    TokenCounts,
    TokensPerDay,
    ToolBreakdown,
    ToolCallRow,
    ToolStatRow,
    ToolUsage,
)
from lunaroute.recording.query._open import open_store
from lunaroute.recording.query._price import format_usd, list_price
from lunaroute.recording.query._store import MAX_PAGE, SessionStore, StoreUnavailable
from lunaroute.recording.query.export import (
    ExportFormat,
    SessionExport,
    csv_cell,
    events_jsonl,
    requests_csv,
    sessions_csv,
    to_json,
)
from lunaroute.recording.query.importer import ImportReport, import_jsonl
from lunaroute.recording.query.postgres import PostgresSessionStore, is_postgres_url
from lunaroute.recording.query.raw import InvalidSessionId, JsonlArchive
from lunaroute.recording.query.sqlite import SqliteSessionStore
from lunaroute.recording.query.timeparse import parse_when

__all__ = [
    "MAX_PAGE",
    "SORT_KEYS",
    "ActivityBucket",
    "AttemptRow",
    "ClientUsage",
    "CostStats",
    "ExportFormat",
    "HourOfDay",
    "ImportReport",
    "InvalidSessionId",
    "JsonlArchive",
    "KeyUsage",
    "ModelLatency",
    "ModelSpending",
    "ModelUsage",
    "Order",
    "OverviewStats",
    "PostgresSessionStore",
    "PriceFn",
    "RequestRow",
    "SessionDetail",
    "SessionExport",
    "SessionFilter",
    "SessionPage",
    "SessionStore",
    "SessionSummary",
    "SessionToolStats",
    "SortKey",
    "SpendingHour",
    "SpendingStats",
    "SqliteSessionStore",
    "StatusCount",
    "StoreUnavailable",
    "StreamMetricRow",
    "TimelineEntry",
    "TimelinePage",
    "TokenCounts",
    "TokensPerDay",
    "ToolBreakdown",
    "ToolCallRow",
    "ToolStatRow",
    "ToolUsage",
    "csv_cell",
    "events_jsonl",
    "format_usd",
    "import_jsonl",
    "is_postgres_url",
    "list_price",
    "open_store",
    "parse_when",
    "requests_csv",
    "sessions_csv",
    "to_json",
]
