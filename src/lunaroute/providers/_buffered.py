"""Responses the pipeline looked into before deciding to keep them: a read body, or a peeked first chunk.

Both implement `UpstreamResponse` so the relay treats them like any other answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from lunaroute.types import Headers, UpstreamResponse

__all__ = ["BufferedResponse", "PeekedResponse", "peek_first_chunk"]


class BufferedResponse:
    """An answer whose whole body was already read (an error body the retry policy had to look at)."""

    def __init__(self, inner: UpstreamResponse, body: bytes) -> None:
        self._inner = inner
        self._body = body
        self.status = inner.status
        self.headers: Headers = inner.headers

    @property
    def is_event_stream(self) -> bool:
        return self._inner.is_event_stream

    async def read(self) -> bytes:
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        if self._body:
            yield self._body

    def close(self) -> None:
        self._inner.close()


class PeekedResponse:
    """A stream whose first chunk is being (or was) awaited before the stream is committed to the client."""

    def __init__(self, inner: UpstreamResponse, iterator: AsyncIterator[bytes], first: asyncio.Task[bytes]) -> None:
        self._inner = inner
        self._iterator = iterator
        self._first = first
        self.status = inner.status
        self.headers: Headers = inner.headers

    @property
    def is_event_stream(self) -> bool:
        return self._inner.is_event_stream

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.iter_chunks()]
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            first = await self._first
        except StopAsyncIteration:
            return
        yield first
        async for chunk in self._iterator:
            yield chunk

    def close(self) -> None:
        if not self._first.done():
            self._first.cancel()
        self._inner.close()


async def _first_chunk(iterator: AsyncIterator[bytes]) -> bytes:
    return await anext(iterator)


async def peek_first_chunk(response: UpstreamResponse, wait_s: float) -> tuple[PeekedResponse, bytes | None]:
    """Wait up to `wait_s` for the first chunk of `response` without losing it.

    Returns the response to relay (it replays the chunk) and the chunk, or None when it did not come in time or
    the body was empty. Upstream errors while waiting surface from the returned response's `iter_chunks`.
    """
    iterator = response.iter_chunks()
    task = asyncio.ensure_future(_first_chunk(iterator))
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), wait_s)
    peeked = PeekedResponse(response, iterator, task)
    if task.done() and not task.cancelled() and task.exception() is None:
        return peeked, task.result()
    return peeked, None
