"""The `SessionWriter` Protocol: a store the recorder hands batches of events to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lunaroute.recording.events import SessionEvent

__all__ = ["SessionWriter"]


class SessionWriter(Protocol):
    """A session store (JSONL files, SQLite, PostgreSQL) fed by the `Recorder`'s single consumer task.

    Contract:
    - `write_batch` stores the events in order, as one unit where the store has transactions. It raises only
      when the store is unavailable (I/O error, connection lost, disk full); content a store cannot hold is
      escaped, truncated or skipped with a log line, never raised, so that one odd event cannot block a batch.
    - Writing the same events again must not duplicate what they mean (idempotent upserts keyed by session,
      request and tool-call id), because a batch that failed is replayed from the spool. JSONL is the one
      exception: a replay after a crash may repeat a line, which readers tolerate.
    - `flush` makes what was written durable to the writer's configured level; `close` flushes and releases
      the store. Neither is called concurrently with `write_batch`.
    """

    name: str
    """A short stable name (`jsonl`, `sqlite`, `postgres`) used for counters and spool files."""

    async def write_batch(self, events: Sequence[SessionEvent]) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...
