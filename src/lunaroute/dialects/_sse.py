"""Incremental Server-Sent Events parsing (the WHATWG event-stream format) and SSE framing.

`SSEParser` takes bytes split at any boundary — inside a UTF-8 character, between CR and LF —
and yields each event once its blank line arrived. Lines may end in CRLF, LF or CR; a leading
BOM is skipped; comment lines (`:`) and `retry` are ignored; a data line without a space after the
colon is accepted. `finish()` dispatches an event the stream left unterminated, since upstreams that
close without the final blank line are common and the data is complete.
"""

from __future__ import annotations

import re

import msgspec

__all__ = ["SSEEvent", "SSEParser", "sse_frame"]

_BOM = b"\xef\xbb\xbf"
_EOL = re.compile(rb"\r\n|\r|\n")


class SSEEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One dispatched event: its type (`message` when none was named), data lines joined by LF, id."""

    event: str = "message"
    data: str = ""
    id: str | None = None


class SSEParser:
    """Feed raw bytes, receive complete events; never raises."""

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Events completed by `data`, in order."""
        self._buffer += data
        if not self._started:
            if len(self._buffer) < len(_BOM) and _BOM.startswith(self._buffer):
                return []
            if self._buffer.startswith(_BOM):
                self._buffer = self._buffer[len(_BOM) :]
            self._started = True
        return self._drain(final=False)

    def finish(self) -> list[SSEEvent]:
        """Events left when the stream ends: the last unterminated line and event, if any."""
        self._started = True
        events = self._drain(final=True)
        if self._buffer:
            events.extend(self._line(self._buffer))
            self._buffer = b""
        events.extend(self._dispatch())
        return events

    def _drain(self, *, final: bool) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        buffer = self._buffer
        pos = 0
        while match := _EOL.search(buffer, pos):
            # A CR at the very end may be the first half of a CRLF split across chunks.
            if match.group() == b"\r" and match.end() == len(buffer) and not final:
                break
            events.extend(self._line(buffer[pos : match.start()]))
            pos = match.end()
        self._buffer = buffer[pos:]
        return events

    def _line(self, raw: bytes) -> list[SSEEvent]:
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return []
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        return []

    def _dispatch(self) -> list[SSEEvent]:
        event, data = self._event, self._data
        self._event, self._data = None, []
        if not data:
            return []
        return [SSEEvent(event=event or "message", data="\n".join(data), id=self._id)]


def sse_frame(data: bytes, event: str | None = None) -> bytes:
    """One SSE event on the wire: optional `event:` line, one `data:` line, blank line.

    `data` must not contain line breaks (compact JSON never does).
    """
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
