"""Recording health: whether the exchanges this gateway serves are being recorded, for `/readyz`, the metrics, the
log and `session_recording.required`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lunaroute.observability import Metrics

if TYPE_CHECKING:
    from lunaroute.recording._capture import Capture
    from lunaroute.recording.worker._protocol import WorkerStats

__all__ = [
    "BEHIND_BYTES",
    "LOSS_WINDOW_SECS",
    "RECORDING_RETRY_AFTER_SECS",
    "STALE_SECS",
    "RecordingHealth",
    "RecordingState",
]

_log = logging.getLogger("lunaroute.recording.health")

BEHIND_BYTES = 64 << 20
"""Journal bytes not yet read by the recorder process past which recording is reported behind (eight segments)."""
LOSS_WINDOW_SECS = 5.0
"""After the recorder last counted a lost event, recording stays `losing` this long (its counters come every
second; a loss is an episode, not an instant)."""
RECORDING_RETRY_AFTER_SECS = 5.0
"""The `retry-after` of a request refused because recording is required and impossible: the health is checked
every second, and space freed on a disk is found within a few."""
STALE_SECS = 15.0
"""The recorder process sends its counters every second; none for this long means it is down or stuck."""

REASONS = ("journal", "losing", "stores", "behind", "recorder")
"""Why recording is degraded. `journal`: the capture journal cannot be written, exchanges are not recorded at all.
`losing`: a store and its spool both fail, events are lost. `stores`: a store fails and its events wait in its
spool (recorded later). `behind`: the recorder process is far behind the journal. `recorder`: the recorder process
has not reported for `STALE_SECS` (the journal keeps the exchanges for it)."""
_IMPOSSIBLE = frozenset({"journal", "losing"})


@dataclass(frozen=True, slots=True)
class RecordingState:
    """One evaluation: the reasons recording is degraded (none: it keeps up)."""

    reasons: tuple[str, ...] = ()

    @property
    def impossible(self) -> bool:
        """Exchanges served now would not be recorded (as opposed to recorded late)."""
        return not _IMPOSSIBLE.isdisjoint(self.reasons)


class RecordingHealth:
    """Evaluates the capture's and the recorder process's counters (`check`, every second from `watch` and at
    each `/readyz`), logs one line when a degraded episode starts, one when it becomes impossible to record, and
    one when it ends, and keeps the `lunaroute_recording_*` metrics. `refusing()` is read on every API request."""

    def __init__(
        self, capture: Capture, metrics: Metrics, *, required: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capture = capture
        self.required = required
        self._metrics = metrics
        self._clock = clock
        self.state = RecordingState()
        self._episode_started: float | None = None
        self._episode_impossible = False
        self._stats: WorkerStats | None = None
        self._stats_seen = clock()
        self._lost = 0
        self._lost_at = float("-inf")
        self._journal_errors = 0

    def refusing(self) -> bool:
        """`session_recording.required` and recording is impossible now: refuse the request. The journal is
        read live; losses as of the last `check`."""
        if not self.required:
            return False
        return self.capture.journal_error is not None or self._clock() - self._lost_at < LOSS_WINDOW_SECS

    def check(self) -> RecordingState:
        now = self._clock()
        capture = self.capture
        stats = capture.recorder_stats
        if stats is not self._stats:
            self._stats, self._stats_seen = stats, now
        if stats.events_lost > self._lost:
            self._lost, self._lost_at = stats.events_lost, now
        reasons = []
        if capture.journal_error is not None:
            reasons.append("journal")
        if now - self._lost_at < LOSS_WINDOW_SECS:
            reasons.append("losing")
        if stats.writers_degraded:
            reasons.append("stores")
        if capture.backlog_bytes >= BEHIND_BYTES:
            reasons.append("behind")
        if now - self._stats_seen >= STALE_SECS:
            reasons.append("recorder")
        self.state = RecordingState(tuple(reasons))
        self._transition(now)
        self._metrics.recording_state(self.state.reasons)
        return self.state

    def _transition(self, now: float) -> None:
        state, capture = self.state, self.capture
        if state.reasons and self._episode_started is None:
            self._episode_started = now
            self._episode_impossible = state.impossible
            self._metrics.recording_episode()
            _log.error(
                "session recording degraded (%s): %s; exchanges are %s",
                ", ".join(state.reasons),
                self._describe(),
                self._consequence(),
            )
        elif state.impossible and not self._episode_impossible and self._episode_started is not None:
            self._episode_impossible = True
            _log.error(
                "session recording impossible now (%s): exchanges are %s", ", ".join(state.reasons), self._consequence()
            )
        elif not state.reasons and self._episode_started is not None:
            _log.warning(
                "session recording keeps up again after %.1f s; %d journal writes failed in that time, %d session "
                "events lost since the gateway started",
                now - self._episode_started,
                capture.stats.journal_errors - self._journal_errors,
                self._lost,
            )
            self._episode_started = None
            self._episode_impossible = False
            self._journal_errors = capture.stats.journal_errors

    def _consequence(self) -> str:
        if not self.state.impossible:
            return "recorded late (the journal and the spools keep them)"
        return "refused with 503 (session_recording.required)" if self.required else "served unrecorded"

    def _describe(self) -> str:
        capture, stats = self.capture, self.capture.recorder_stats
        parts = []
        if capture.journal_error is not None:
            parts.append(f"journal: {capture.journal_error}")
        if stats.writers_degraded:
            parts.append("writers spooling or losing: " + ", ".join(stats.writers_degraded))
        if stats.disk_free_bytes:
            parts.append("free bytes: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.disk_free_bytes.items())))
        parts.append(f"journal backlog {capture.backlog_bytes} bytes")
        parts.append("see /readyz and lunaroute_recording_degraded")
        return "; ".join(parts)

    def snapshot(self) -> dict[str, object]:
        """The `recording` component of `/readyz` (evaluated now)."""
        state = self.check()
        capture, stats = self.capture, self.capture.recorder_stats
        return {
            "status": "degraded" if state.reasons else "ok",
            "reasons": list(state.reasons),
            "required": self.required,
            "refusing": self.refusing(),
            "journal_error": capture.journal_error,
            "journal_backlog_bytes": capture.backlog_bytes,
            "writers_degraded": list(stats.writers_degraded),
            "events_lost": stats.events_lost,
            "disk_free_bytes": dict(stats.disk_free_bytes),
        }

    async def watch(self, interval_secs: float = 1.0) -> None:
        """Every `interval_secs` until cancelled: let a failed journal find room again (`Capture.probe`), then
        `check`. Owned by the app: started with the recorder, cancelled before it closes."""
        while True:
            await asyncio.sleep(interval_secs)
            self.capture.probe()
            self.check()
