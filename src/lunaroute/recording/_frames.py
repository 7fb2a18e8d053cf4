"""Journal frames: one entry (`start`, `end` or `full`) of one exchange, as bytes.

A frame is a 12-byte header (`LRJ3`, the length of the entry, 0) and the entry: `[kind, record]` as MessagePack,
the bodies inside as binary strings (no base64, no escaping). The gateway encodes it straight into its staging
buffer: one encode and no copy of its own per exchange. A start entry carries the request body and leaves the
response out; an end entry leaves the request body out (its start has it). Frames of the earlier version (`LRJ2`:
the record without its bodies as JSON, then the bodies as raw bytes, the header giving both lengths) are still read.
"""

from __future__ import annotations

import logging
import struct
from typing import Literal

import msgspec

from lunaroute.types import ExchangeRecord

__all__ = ["JournalEntry", "Kind", "Split", "encode_entry", "encode_frame_into", "split_frames"]

_log = logging.getLogger("lunaroute.recording.journal")

Kind = Literal["start", "end", "full"]
"""`start`: the exchange began (with the request body); `end`: it ended (without it); `full`: both at once."""


class JournalEntry(msgspec.Struct, frozen=True):
    kind: Kind
    record: ExchangeRecord


class _Entry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A frame's entry as encoded: `[kind, record]`."""

    kind: Kind
    record: ExchangeRecord


class _MetaV2(msgspec.Struct, frozen=True):
    """An `LRJ2` frame's metadata: the record without its bodies, and the lengths of the bodies in the payload
    (request body, response body, then each stream chunk)."""

    kind: Kind
    record: ExchangeRecord
    request_len: int = 0
    response_len: int = 0
    chunk_lens: list[int] = []


MAGIC = b"LRJ3"
_MAGIC_V2 = b"LRJ2"
FRAME_HEADER = struct.Struct("<4sII")
_PLACEHOLDER = bytes(FRAME_HEADER.size)
_MAX_META = 64 << 20
"""A frame header announcing more metadata than this is damage, not an entry."""

_encoder = msgspec.msgpack.Encoder()
_entry_decoder = msgspec.msgpack.Decoder(_Entry)
_v2_decoder = msgspec.json.Decoder(_MetaV2)


def encode_frame_into(kind: Kind, record: ExchangeRecord, buffer: bytearray) -> None:
    """Append one frame to `buffer`. The caller's record is left as it was."""
    start = len(buffer)
    buffer += _PLACEHOLDER
    if kind == "full":
        _encoder.encode_into(_Entry(kind, record), buffer, -1)
    elif kind == "end":
        request = record.request_body
        record.request_body = b""
        try:
            _encoder.encode_into(_Entry(kind, record), buffer, -1)
        finally:
            record.request_body = request
    else:
        response, chunks = record.response_body, record.stream_chunks
        record.response_body, record.stream_chunks = b"", []
        try:
            _encoder.encode_into(_Entry(kind, record), buffer, -1)
        finally:
            record.response_body, record.stream_chunks = response, chunks
    FRAME_HEADER.pack_into(buffer, start, MAGIC, len(buffer) - start - FRAME_HEADER.size, 0)


def encode_entry(kind: Kind, record: ExchangeRecord) -> bytes:
    """One frame, as one bytes object."""
    buffer = bytearray()
    encode_frame_into(kind, record, buffer)
    return bytes(buffer)


def _decode(magic: bytes, meta: memoryview, payload: memoryview) -> JournalEntry:
    if magic == MAGIC:
        if payload:
            raise ValueError("an LRJ3 frame has no payload after its entry")
        entry = _entry_decoder.decode(meta)
        return JournalEntry(entry.kind, entry.record)
    old = _v2_decoder.decode(meta)
    record = old.record
    at = old.request_len + old.response_len
    if at + sum(old.chunk_lens) != len(payload):
        raise ValueError("the payload lengths do not add up")
    record.request_body = bytes(payload[: old.request_len])
    record.response_body = bytes(payload[old.request_len : at])
    chunks = []
    for size in old.chunk_lens:
        chunks.append(bytes(payload[at : at + size]))
        at += size
    record.stream_chunks = chunks
    return JournalEntry(old.kind, record)


class Split(msgspec.Struct, frozen=True):
    """What `split_frames` found: the entries, the bytes they took, and where damage starts (None: no damage)."""

    entries: list[JournalEntry]
    consumed: int
    damaged_at: int | None = None


def split_frames(data: bytes, segment: int) -> Split:
    """The complete frames at the start of `data` and how many bytes they take (the rest is a frame still being
    written, or cut). An unreadable frame is logged and skipped; bytes that are not a frame header stop the split
    and are reported as damage."""
    view = memoryview(data)
    entries: list[JournalEntry] = []
    at, end = 0, len(data)
    while end - at >= FRAME_HEADER.size:
        magic, meta_len, payload_len = FRAME_HEADER.unpack_from(view, at)
        if magic not in (MAGIC, _MAGIC_V2) or meta_len > _MAX_META:
            return Split(entries, at, damaged_at=at)
        stop = at + FRAME_HEADER.size + meta_len + payload_len
        if stop > end:
            break
        start = at + FRAME_HEADER.size
        try:
            entries.append(_decode(magic, view[start : start + meta_len], view[start + meta_len : stop]))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            _log.warning("journal segment %d: unreadable entry skipped", segment)
        at = stop
    return Split(entries, at)
