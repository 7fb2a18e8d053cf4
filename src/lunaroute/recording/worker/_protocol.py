"""The messages between the gateway and its recorder process: newline-delimited JSON on the worker's stdin
(gateway → worker) and stdout (worker → gateway). The worker's logs go to stderr, which it shares with the
gateway."""

from __future__ import annotations

import msgspec

from lunaroute.config import SessionRecordingConfig

__all__ = [
    "Failed",
    "FromWorker",
    "Lane",
    "LaneRestarted",
    "Ready",
    "Stop",
    "Sync",
    "Synced",
    "ToWorker",
    "UsageReport",
    "WorkerSpec",
    "WorkerStats",
    "decode_from_worker",
    "decode_to_worker",
    "encode",
]


class Lane(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One journal the recorder follows: a directory one gateway process writes (`serve --workers N` has N of
    them), or one a process that is gone left behind (`closed`: nothing more will be written to it)."""

    directory: str
    first_live_segment: int
    """As `WorkerSpec.first_live_segment`, for this journal."""
    closed: bool = False


class WorkerSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The first line the gateway writes: what to record and where."""

    recording: SessionRecordingConfig
    """With its paths resolved (the journal is `recording.journal_directory`)."""
    first_live_segment: int
    """Segments numbered below this were left by a gateway that is gone: a start there without an end is
    recorded as `interrupted`. Segments from this one on belong to the running gateway."""
    log_level: str = "info"
    log_format: str = "auto"
    log_requests: bool = False
    log_sql_queries: bool = False
    session_stats_max_sessions: int = 0
    """Sessions whose totals are logged when the recorder stops (0: no summary)."""
    lanes: list[Lane] = msgspec.field(default_factory=list)
    """The journals to follow, all into the same stores; empty: `recording.journal_directory` alone, from
    `first_live_segment`."""


class Sync(msgspec.Struct, frozen=True, tag="sync"):
    """Answer with `Synced(token)` once everything journaled before this line is recorded and flushed."""

    token: int


class Stop(msgspec.Struct, frozen=True, tag="stop"):
    """The gateway stopped journaling: record everything, flush, close the stores and exit.

    `drain_secs` bounds the recording: past it the worker stops reading the journal, records what it has read,
    closes the stores and exits, leaving the rest of the journal for the next start to record (`None`: no bound).
    """

    drain_secs: float | None = None


class LaneRestarted(msgspec.Struct, frozen=True, tag="lane"):
    """The process writing lane `lane` (an index into `WorkerSpec.lanes`) died and another took its place, writing
    from segment `first_live_segment` on: an exchange begun in an earlier segment of that lane and never ended is
    recorded as `interrupted` once the recorder has read up to there."""

    lane: int
    first_live_segment: int


ToWorker = Sync | Stop | LaneRestarted


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    """The stores are open."""


class Failed(msgspec.Struct, frozen=True, tag="failed"):
    """The stores could not be opened; the worker exits after this line."""

    message: str


class Synced(msgspec.Struct, frozen=True, tag="synced"):
    token: int


class UsageReport(msgspec.Struct, frozen=True, tag="usage"):
    """Tokens and cost of one finished exchange, for the gateway's metrics."""

    provider: str
    model: str
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    reasoning: int = 0
    cost_model: str | None = None
    cost_usd: float | None = None


class WorkerStats(msgspec.Struct, tag="stats"):
    """A snapshot of the worker's counters (sent every second and with every `Synced`)."""

    exchanges_recorded: int = 0
    extraction_failures: int = 0
    replayed_records: int = 0
    interrupted: int = 0
    journal_segment: int = 0
    journal_offset: int = 0
    """How far the worker has read the journal (the first lane's)."""
    lane_positions: list[tuple[int, int]] = msgspec.field(default_factory=list)
    """(segment, offset) read so far in each lane, in `WorkerSpec.lanes` order."""
    recorder_queue: int = 0
    events_written: dict[str, int] = msgspec.field(default_factory=dict)
    events_failed: dict[str, int] = msgspec.field(default_factory=dict)
    events_spooled: int = 0
    events_lost: int = 0
    writers_degraded: list[str] = msgspec.field(default_factory=list)
    """Writers not taking events directly now (spooling them, or losing them when the spool fails too)."""
    disk_free_bytes: dict[str, int] = msgspec.field(default_factory=dict)
    """Free space on the file system of each local store (`journal`, `jsonl`, `sqlite`)."""
    retention_runs: int = 0
    retention_files_deleted: int = 0
    retention_files_compressed: int = 0
    retention_sessions_deleted: int = 0
    retention_errors: int = 0


FromWorker = Ready | Failed | Synced | UsageReport | WorkerStats

_to_worker = msgspec.json.Decoder(ToWorker)
_from_worker = msgspec.json.Decoder(FromWorker)
_encoder = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message) + b"\n"


def decode_to_worker(line: bytes) -> ToWorker:
    message: ToWorker = _to_worker.decode(line)
    return message


def decode_from_worker(line: bytes) -> FromWorker:
    message: FromWorker = _from_worker.decode(line)
    return message
