"""The mock's `UpstreamResponse`: precomputed body chunks, handed out with optional pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from lunaroute.types import Headers

__all__ = ["MockResponse"]


class MockResponse:
    """An answer whose bytes already exist; reading only paces them.

    `iter_chunks()` yields the chunks in order, sleeping `chunk_delay` seconds before each one but the first;
    `read()` joins what `iter_chunks()` yields. After `close()` no further chunk is yielded.
    """

    __slots__ = ("_chunk_delay", "_chunks", "_closed", "headers", "status")

    def __init__(self, status: int, headers: Headers, chunks: tuple[bytes, ...], chunk_delay: float = 0.0) -> None:
        self.status = status
        self.headers = headers
        self._chunks = chunks
        self._chunk_delay = chunk_delay
        self._closed = False

    @property
    def is_event_stream(self) -> bool:
        return any(name == "content-type" and value.startswith("text/event-stream") for name, value in self.headers)

    async def read(self) -> bytes:
        if self._chunk_delay <= 0:
            self._closed = True
            return b"".join(self._chunks)
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self._chunks):
            if self._closed:
                return
            if index and self._chunk_delay > 0:
                await asyncio.sleep(self._chunk_delay)
                if self._closed:
                    return
            yield chunk
        self._closed = True

    def close(self) -> None:
        self._closed = True
