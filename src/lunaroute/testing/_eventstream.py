"""Encode AWS event-stream messages (`application/vnd.amazon.eventstream`), as Bedrock's fake upstream sends them.

The framing: a prelude (total length, headers length, their CRC32), string-typed headers, the payload, and the
CRC32 of everything before it. Clients decode it with botocore's parser, which checks every length and CRC.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["event_message", "exception_message"]

_STRING = 7


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def _message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = _headers(headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event_message(event_type: str, payload: bytes) -> bytes:
    """One `:message-type: event` message carrying a JSON payload."""
    return _message({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, payload)


def exception_message(exception_type: str, payload: bytes) -> bytes:
    """One `:message-type: exception` message (`throttlingException`, ...) carrying `{"message": ...}`."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return _message(headers, payload)
