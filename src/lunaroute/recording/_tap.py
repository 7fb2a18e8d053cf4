"""`RecordingTap`: what the request path hands the recorder for one exchange — cheap appends, no parsing."""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING, Literal

from lunaroute.types import Attempt, ExchangeRecord, Headers, Outcome

if TYPE_CHECKING:
    from lunaroute.recording._capture import Capture

__all__ = ["SECRET_HEADERS", "RecordingTap", "client_ip_for", "recordable_headers"]

SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-lunaroute-key", "cookie", "set-cookie", "proxy-authorization"}
)


def recordable_headers(headers: Headers, *, capture_user_agent: bool, max_user_agent: int) -> list[tuple[str, str]]:
    """Request headers fit to store: never credentials or cookies; the user agent capped or dropped."""
    out = []
    for name, value in headers:
        if name in SECRET_HEADERS:
            continue
        if name == "user-agent":
            if not capture_user_agent:
                continue
            value = value[:max_user_agent]
        out.append((name, value))
    return out


def client_ip_for(remote: str | None, mode: Literal["none", "anonymized", "full"]) -> str | None:
    """The client address as recorded: none, anonymized (IPv4 /24, IPv6 /48) or in full."""
    if remote is None or mode == "none":
        return None
    if mode == "full":
        return remote
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_UPSTREAM_ERROR_CHARS = 4096
"""How much of a translated provider error body is kept in the record's error note."""


class RecordingTap:
    """Fills one `ExchangeRecord` as the exchange goes, and hands it to the `Capture` at begin and end.

    A stream chunk costs two list appends and a clock read (`chunk`)."""

    __slots__ = (
        "_add_chunk",
        "_add_offset",
        "_begun",
        "_capture",
        "_ended",
        "_room",
        "_started",
        "_upstream_error",
        "record",
    )

    def __init__(self, capture: Capture, record: ExchangeRecord, *, started: float, limit: int) -> None:
        self._capture = capture
        self.record = record
        self._started = started
        self._room = limit
        self._begun = False
        self._ended = False
        self._upstream_error: str | None = None
        chunks: list[bytes] = []
        offsets: list[float] = []
        record.stream_chunks, record.chunk_offsets_ms = chunks, offsets
        self._add_chunk = chunks.append
        self._add_offset = offsets.append

    def _ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000.0

    def routed(self, provider: str, dialect: str, model: str | None, translated: bool) -> None:
        """The provider was chosen and the call is about to be sent: the record is journaled as begun (the first
        time; a fallback sending it elsewhere changes the routed fields its end entry carries)."""
        record = self.record
        record.provider = provider
        record.provider_dialect = dialect  # type: ignore[assignment]
        record.model_sent = model
        record.translated = translated
        record.upstream_sent_ms = self._ms()
        self._upstream_error = None
        if not self._begun:
            self._begun = True
            self._capture.begin(record)

    def gave_up(self, provider: str, status: int | None, reason: str) -> None:
        """An attempt on `provider` failed and another one (a retry or a fallback) follows."""
        self.record.attempts.append(Attempt(provider, status, reason))

    def upstream_error(self, status: int, body: bytes) -> None:
        """The provider's own error body, before it was translated into the client's dialect: kept as the
        exchange's error note (unless the end names another), so what the provider said is not lost."""
        text = body[:_UPSTREAM_ERROR_CHARS].decode("utf-8", errors="replace").strip()
        self._upstream_error = f"{self.record.provider or 'the provider'} answered {status}: {text}"

    def head(self, status: int, headers: Headers) -> None:
        self.record.upstream_head_ms = self._ms()
        self.record.status = status
        self.record.response_headers = list(headers)

    def chunk(self, data: bytes) -> None:
        """A stream chunk was relayed to the client. Past the capture limit only its arrival is noted."""
        room = self._room - len(data)
        if room >= 0:
            self._room = room
            self._add_chunk(data)
            self._add_offset((time.perf_counter() - self._started) * 1000.0)
            return
        self._room = -1  # full: no later chunk is kept either, so the recorded stream has no gap
        record = self.record
        record.response_truncated = True
        if record.first_byte_ms is None and not record.chunk_offsets_ms:
            record.first_byte_ms = self._ms()

    def body(self, data: bytes) -> None:
        record = self.record
        record.first_byte_ms = record.first_byte_ms or self._ms()
        if len(data) > self._room:
            record.response_truncated = True
            data = data[: max(0, self._room)]
        record.response_body = data

    def finish(self, status: int | None, outcome: Outcome, error: str | None = None) -> None:
        """The exchange ended; idempotent. Journals the end (and the begin, for exchanges never routed) before it
        returns, so call it before the client sees the end of its response."""
        if self._ended:
            return
        self._ended = True
        record = self.record
        if status is not None:
            record.status = status
        record.outcome = outcome
        record.error = error if error is not None else self._upstream_error
        record.finished_ms = self._ms()
        if record.first_byte_ms is None and record.chunk_offsets_ms:
            record.first_byte_ms = record.chunk_offsets_ms[0]
        if not self._begun:
            self._begun = True
            self._capture.begin(record)
        self._capture.end(record)
