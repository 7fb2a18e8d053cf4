"""`RecordingTap`: what the request path hands the recorder for one exchange — cheap appends, no parsing."""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING, Literal

from lunaroute.types import ExchangeRecord, Headers, Outcome

if TYPE_CHECKING:
    from lunaroute.recording._capture import Capture

__all__ = ["SECRET_HEADERS", "RecordingTap", "client_ip_for", "recordable_headers"]

SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie", "proxy-authorization"})


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


class RecordingTap:
    """Fills one `ExchangeRecord` as the exchange goes, and hands it to the `Capture` at begin and end."""

    __slots__ = ("_begun", "_capture", "_ended", "_limit", "_size", "_started", "record")

    def __init__(self, capture: Capture, record: ExchangeRecord, *, started: float, limit: int) -> None:
        self._capture = capture
        self.record = record
        self._started = started
        self._limit = limit
        self._size = 0
        self._begun = False
        self._ended = False

    def _ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000.0

    def routed(self, provider: str, dialect: str, model: str | None, translated: bool) -> None:
        """The provider was chosen and the call is about to be sent: the record is journaled as begun."""
        record = self.record
        record.provider = provider
        record.provider_dialect = dialect  # type: ignore[assignment]
        record.model_sent = model
        record.translated = translated
        record.upstream_sent_ms = self._ms()
        if not self._begun:
            self._begun = True
            self._capture.begin(record)

    def head(self, status: int, headers: Headers) -> None:
        self.record.upstream_head_ms = self._ms()
        self.record.status = status
        self.record.response_headers = list(headers)

    def chunk(self, data: bytes) -> None:
        record = self.record
        offset = self._ms()
        if record.first_byte_ms is None:
            record.first_byte_ms = offset
        if self._size + len(data) > self._limit:
            record.response_truncated = True
            return
        self._size += len(data)
        record.stream_chunks.append(data)
        record.chunk_offsets_ms.append(offset)

    def body(self, data: bytes) -> None:
        record = self.record
        record.first_byte_ms = record.first_byte_ms or self._ms()
        if len(data) > self._limit:
            record.response_truncated = True
            data = data[: self._limit]
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
        record.error = error
        record.finished_ms = self._ms()
        if not self._begun:
            self._begun = True
            self._capture.begin(record)
        self._capture.end(record)
