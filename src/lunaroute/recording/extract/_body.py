"""The response bytes the client received, reassembled and decompressed for parsing."""

from __future__ import annotations

import zlib

import zstandard

from lunaroute.types import ExchangeRecord

__all__ = ["MAX_DECODED_BYTES", "DecodeFailed", "header", "response_bytes"]

MAX_DECODED_BYTES = 64 * 1024 * 1024
"""The most a compressed body may expand to; more is refused (a recording is not worth a decompression bomb)."""


class DecodeFailed(ValueError):
    """The body's `content-encoding` could not be undone."""


def header(headers: list[tuple[str, str]], name: str) -> str:
    """The first value of header `name` (lower-case), or ''."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return ""


def _inflate(data: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, MAX_DECODED_BYTES)
    if inflater.unconsumed_tail:
        raise DecodeFailed(f"decompressed body exceeds {MAX_DECODED_BYTES} bytes")
    return out


def _decode(data: bytes, encoding: str) -> bytes:
    try:
        if encoding in ("gzip", "x-gzip"):
            return _inflate(data, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return _inflate(data, zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
        if encoding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(data)
            out: bytes = reader.read(MAX_DECODED_BYTES + 1)
            if len(out) > MAX_DECODED_BYTES:
                raise DecodeFailed(f"decompressed body exceeds {MAX_DECODED_BYTES} bytes")
            return out
    except (zlib.error, zstandard.ZstdError) as exc:
        raise DecodeFailed(f"cannot decode {encoding} body: {exc}") from None
    raise DecodeFailed(f"unsupported content-encoding {encoding!r}")


def response_bytes(record: ExchangeRecord) -> bytes:
    """The response body (or the relayed stream chunks joined), with its `content-encoding` undone.

    Raises `DecodeFailed` when an encoding is declared but cannot be undone (unsupported, corrupt, or past
    `MAX_DECODED_BYTES`). A body that is plainly not compressed (JSON or SSE text) despite the header is
    returned as it is: some relays decompress without dropping the header.
    """
    data = record.response_body or b"".join(record.stream_chunks)
    encodings = [e.strip().lower() for e in header(record.response_headers, "content-encoding").split(",")]
    encodings = [e for e in encodings if e and e != "identity"]
    if not encodings or not data or data.lstrip()[:1] in (b"{", b"[", b"d", b"e", b":"):
        return data
    for encoding in reversed(encodings):
        data = _decode(data, encoding)
    return data
