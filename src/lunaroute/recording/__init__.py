"""Session recording: the event vocabulary, the recorder queue and the JSONL, SQLite and PostgreSQL stores.

`PostgresWriter` lives in `lunaroute.recording.postgres` (imported on demand: it needs asyncpg).
"""

from lunaroute.recording._types import SessionWriter
from lunaroute.recording.codec import decode_event, encode_event, encode_line, sanitize_event
from lunaroute.recording.events import (
    Completed,
    CostEstimate,
    Outcome,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    StreamingStats,
    StreamStarted,
    TokenStats,
    TokenTotals,
    ToolCallRecorded,
    ToolCallStats,
    ToolStats,
    ToolUsageSummary,
    is_valid_session_id,
    validate_session_id,
)
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.jsonl_reader import BadLine, SessionFile, iter_session_file, read_session_file
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.retention import (
    RetentionPolicy,
    RetentionStats,
    RetentionTask,
    free_disk_bytes,
    run_retention,
)
from lunaroute.recording.sqlite import SqliteWriter

__all__ = [
    "BadLine",
    "Completed",
    "CostEstimate",
    "JsonlWriter",
    "Outcome",
    "Recorder",
    "RequestRecorded",
    "ResponseRecorded",
    "RetentionPolicy",
    "RetentionStats",
    "RetentionTask",
    "SessionEvent",
    "SessionFile",
    "SessionWriter",
    "SqliteWriter",
    "Started",
    "StatsUpdated",
    "StreamStarted",
    "StreamingStats",
    "TokenStats",
    "TokenTotals",
    "ToolCallRecorded",
    "ToolCallStats",
    "ToolStats",
    "ToolUsageSummary",
    "decode_event",
    "encode_event",
    "encode_line",
    "free_disk_bytes",
    "is_valid_session_id",
    "iter_session_file",
    "read_session_file",
    "run_retention",
    "sanitize_event",
    "validate_session_id",
]
