"""`JournalConsumer`: turns the journal's entries into session events and hands them to the `Recorder`.

Runs in the recorder process. It follows the segments the gateway writes (`JournalReader`), keeps each start's
record until its end arrives (the end entry carries no request body; a `full` entry is both at once), derives the
events (`events_at_start` / `events_at_end`), and recycles a segment (`_segments.discard`) once everything derived
from it is flushed and no exchange begun in it is still open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from lunaroute.recording._frames import JournalEntry
from lunaroute.recording._journal_reader import JournalReader
from lunaroute.recording._segments import discard
from lunaroute.recording.events import Completed, ResponseRecorded, SessionEvent
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.worker._protocol import UsageReport
from lunaroute.types import ExchangeRecord

__all__ = ["JournalConsumer", "Redactor", "UsageTally", "usage_of"]

_log = logging.getLogger("lunaroute.recording.worker")

Redactor = Callable[[SessionEvent], SessionEvent]
EndHook = Callable[[ExchangeRecord, list[SessionEvent]], None]


@dataclass(slots=True)
class ConsumerStats:
    exchanges_recorded: int = 0
    extraction_failures: int = 0
    replayed_records: int = 0
    interrupted: int = 0


class JournalConsumer:
    """Journal → events → recorder, in journal order."""

    def __init__(
        self,
        directory: Path,
        recorder: Recorder,
        *,
        first_live_segment: int,
        redact: Redactor | None = None,
        on_end: EndHook | None = None,
        tracker: SessionTracker | None = None,
    ) -> None:
        self.directory = directory
        self.recorder = recorder
        self.reader = JournalReader(directory)
        self.tracker = tracker if tracker is not None else SessionTracker()
        """Shared by the consumers of every lane: a session's requests may reach different gateway processes."""
        self.stats = ConsumerStats()
        self._first_live = first_live_segment
        self._redact = redact
        self._on_end = on_end
        self._open: dict[str, tuple[int, ExchangeRecord]] = {}
        """Request id → (segment of its start entry, the start's record) for exchanges not ended yet."""
        self._dead_finalized = first_live_segment <= self.reader.segment

    def step(self, max_bytes: int = 1 << 20) -> int:
        """Record the entries written since the last step (about `max_bytes` of them); return how many."""
        count = 0
        for segment, entry in self.reader.read(max_bytes):
            count += 1
            if segment < self._first_live:
                self.stats.replayed_records += 1
            self._consume(segment, entry)
        if not self._dead_finalized and self.reader.segment >= self._first_live:
            self._finalize(lambda seg: seg < self._first_live, "the gateway stopped before this exchange finished")
            self._dead_finalized = True
        return count

    def restarted(self, first_live_segment: int) -> None:
        """Another process now writes this journal, from `first_live_segment` on: exchanges still open from
        earlier segments are recorded as `interrupted` once the reader gets there (their ends were never written)."""
        self._first_live = first_live_segment
        self._dead_finalized = False

    def _consume(self, segment: int, entry: JournalEntry) -> None:
        record = entry.record
        if entry.kind == "start":
            self._open[record.request_id] = (segment, record)
            self._emit(self._events("start", record))
            return
        if entry.kind == "full":  # an exchange short enough to be journaled once, start and end together
            self._emit(self._events("start", record))
        opened = self._open.pop(record.request_id, None)
        if opened is not None and not record.request_body:
            record.request_body = opened[1].request_body
        events = self._events("end", record)
        self._emit(events)
        self.stats.exchanges_recorded += 1
        if self._on_end is not None:
            self._on_end(record, events)

    def finalize_open(self, reason: str) -> None:
        """Record every exchange still open as `interrupted` (its gateway is gone)."""
        self._finalize(lambda _: True, reason)

    def _finalize(self, which: Callable[[int], bool], reason: str) -> None:
        for request_id, (segment, record) in list(self._open.items()):
            if not which(segment):
                continue
            del self._open[request_id]
            record.outcome = "interrupted"
            record.error = reason
            self.stats.interrupted += 1
            self._emit([e for e in self._events("end", record) if isinstance(e, Completed)])

    def _events(self, kind: Literal["start", "end"], record: ExchangeRecord) -> list[SessionEvent]:
        try:
            if kind == "start":
                return events_at_start(record, self.tracker)
            return events_at_end(record, self.tracker)
        except Exception:  # noqa: BLE001 - a parsing bug must not stop recording; counted and logged
            self.stats.extraction_failures += 1
            _log.exception("could not derive %s events for request %s", kind, record.request_id)
            return []

    def _emit(self, events: list[SessionEvent]) -> None:
        redact = self._redact
        for event in events:
            self.recorder.record(redact(event) if redact is not None else event)

    def deletable(self) -> list[int]:
        """Segments read to their end whose exchanges are all ended: deletable once the recorder has flushed
        what was recorded so far."""
        oldest_open = min((segment for segment, _ in self._open.values()), default=None)
        return [n for n in self.reader.completed if oldest_open is None or n < oldest_open]

    def delete(self, numbers: list[int]) -> None:
        """The segments are recorded: recycle them as spares for the gateway, or delete them."""
        for number in numbers:
            if number == self.reader.segment:
                self.reader.release()
            discard(self.directory, number)
        gone = set(numbers)
        self.reader.completed = [n for n in self.reader.completed if n not in gone]

    def delete_all_read(self) -> None:
        """After the gateway is gone and everything is recorded: every segment read, the current one too."""
        self.delete([*self.reader.completed, self.reader.segment])


def usage_of(record: ExchangeRecord, events: list[SessionEvent]) -> UsageReport | None:
    """The tokens and cost of a finished exchange, for the gateway's metrics (None when nothing was used)."""
    provider = record.provider or "gateway"
    model = record.model_sent or record.model_requested or ""
    report = None
    for event in events:
        if isinstance(event, ResponseRecorded):
            report = UsageReport(
                provider=provider,
                model=event.model_used or model,
                input=event.input_tokens,
                output=event.output_tokens,
                cache_read=event.cache_read_tokens or 0,
                cache_creation=event.cache_creation_tokens or 0,
                reasoning=(event.reasoning_tokens or 0) + (event.thinking_tokens or 0),
            )
        elif isinstance(event, Completed) and event.estimated_cost is not None:
            cost = event.estimated_cost
            base = report or UsageReport(provider=provider, model=model)
            report = msgspec.structs.replace(base, cost_model=cost.model, cost_usd=cost.total_cost_usd)
    return report


class UsageTally:
    """Usage reports summed per (provider, model, priced model) between two hand-overs to the gateway, so the
    gateway updates its counters a few times a second instead of once per exchange."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str | None], UsageReport] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def add(self, report: UsageReport) -> None:
        key = (report.provider, report.model, report.cost_model)
        seen = self._rows.get(key)
        if seen is None:
            self._rows[key] = report
            return
        cost = None
        if seen.cost_usd is not None or report.cost_usd is not None:
            cost = (seen.cost_usd or 0.0) + (report.cost_usd or 0.0)
        self._rows[key] = msgspec.structs.replace(
            seen,
            input=seen.input + report.input,
            output=seen.output + report.output,
            cache_read=seen.cache_read + report.cache_read,
            cache_creation=seen.cache_creation + report.cache_creation,
            reasoning=seen.reasoning + report.reasoning,
            cost_usd=cost,
        )

    def take(self) -> list[UsageReport]:
        rows, self._rows = list(self._rows.values()), {}
        return rows
