"""Journal frames: one entry (`start`, `end` or `full`) of one exchange, as bytes.

A frame is a 12-byte header (`LRJ3`, the length of its metadata, the length of its payload), the metadata as
MessagePack (`kind` and the `ExchangeRecord` without its bodies, plus the lengths of the bodies) and the bodies as
raw bytes: no base64, no escaping, so the gateway's cost per exchange is one small encode and one copy. A start
entry carries the request body, an end entry leaves it out (its start has it). Frames of the earlier version
(`LRJ2`, the metadata as JSON) are still read.
"""

from __future__ import annotations

import logging
import struct
from typing import Literal

import msgspec

from lunaroute.types import ExchangeRecord

__all__ = ["JournalEntry", "Kind", "Split", "encode_entry", "frame_pieces", "split_frames"]

_log = logging.getLogger("lunaroute.recording.journal")

Kind = Literal["start", "end", "full"]
"""`start`: the exchange began (with the request body); `end`: it ended (without it); `full`: both at once."""


class JournalEntry(msgspec.Struct, frozen=True):
    kind: Kind
    record: ExchangeRecord


class _Meta(msgspec.Struct, frozen=True):
    """A frame's metadata: the record without its bodies, and the lengths of the bodies in the payload (request
    body, response body, then each stream chunk)."""

    kind: Kind
    record: ExchangeRecord
    request_len: int = 0
    response_len: int = 0
    chunk_lens: list[int] = []


MAGIC = b"LRJ3"
FRAME_HEADER = struct.Struct("<4sII")
_MAX_META = 64 << 20
"""A frame header announcing more metadata than this is damage, not an entry."""

_encoder = msgspec.msgpack.Encoder()
_DECODERS: dict[bytes, msgspec.msgpack.Decoder[_Meta] | msgspec.json.Decoder[_Meta]] = {
    MAGIC: msgspec.msgpack.Decoder(_Meta),
    b"LRJ2": msgspec.json.Decoder(_Meta),
}


def frame_pieces(kind: Kind, record: ExchangeRecord) -> tuple[list[bytes], int]:
    """One frame as the pieces to write one after the other (header, metadata, bodies), and their total length.
    The record's bodies travel as raw payload bytes; an end entry leaves the request body out, a start entry the
    response. The caller's record is left as it was."""
    saved = record.request_body, record.response_body, record.stream_chunks
    request = saved[0] if kind != "end" else b""
    response, chunks = (b"", []) if kind == "start" else (saved[1], saved[2])
    record.request_body, record.response_body, record.stream_chunks = b"", b"", []
    try:
        meta = _encoder.encode(
            _Meta(kind, record, len(request), len(response), [len(c) for c in chunks] if chunks else [])
        )
    finally:
        record.request_body, record.response_body, record.stream_chunks = saved
    payload_len = len(request) + len(response) + sum(map(len, chunks))
    header = FRAME_HEADER.pack(MAGIC, len(meta), payload_len)
    return [header, meta, request, response, *chunks], FRAME_HEADER.size + len(meta) + payload_len


def encode_entry(kind: Kind, record: ExchangeRecord) -> bytes:
    """One frame, as one bytes object."""
    return b"".join(frame_pieces(kind, record)[0])


def decode_frame(magic: bytes, meta_bytes: bytes, payload: memoryview) -> JournalEntry:
    meta = _DECODERS[magic].decode(meta_bytes)
    record = meta.record
    at = meta.request_len + meta.response_len
    if at + sum(meta.chunk_lens) != len(payload):
        raise ValueError("the payload lengths do not add up")
    record.request_body = bytes(payload[: meta.request_len])
    record.response_body = bytes(payload[meta.request_len : at])
    chunks = []
    for size in meta.chunk_lens:
        chunks.append(bytes(payload[at : at + size]))
        at += size
    record.stream_chunks = chunks
    return JournalEntry(meta.kind, record)


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
        if magic not in _DECODERS or meta_len > _MAX_META:
            return Split(entries, at, damaged_at=at)
        stop = at + FRAME_HEADER.size + meta_len + payload_len
        if stop > end:
            break
        start = at + FRAME_HEADER.size
        try:
            entries.append(decode_frame(magic, data[start : start + meta_len], view[start + meta_len : stop]))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            _log.warning("journal segment %d: unreadable entry skipped", segment)
        at = stop
    return Split(entries, at)
