"""Write a `Plan` to the client with the reply's timing and failure modes (a reply's only socket code)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from ._plan import Plan
from ._reply import Reply

__all__ = ["Progress", "ResetByReply", "send_plan"]


class ResetByReply(Exception):
    """The reply itself reset the connection (`reset_before_headers` / `reset_after_chunks`): not an abort."""


@dataclass(slots=True)
class Progress:
    """How far a reply got; read by the server when the client goes away."""

    chunks_sent: int = 0
    reset: bool = False


def _reset(request: web.BaseRequest, progress: Progress) -> ResetByReply:
    progress.reset = True
    transport = request.transport
    if transport is not None:
        transport.abort()
    return ResetByReply()


async def _write(response: web.StreamResponse, chunk: bytes, drip: float | None) -> None:
    if drip is None:
        await response.write(chunk)
        return
    for index in range(len(chunk)):
        if index:
            await asyncio.sleep(drip)
        await response.write(chunk[index : index + 1])


async def send_plan(request: web.BaseRequest, plan: Plan, reply: Reply, progress: Progress) -> web.StreamResponse:
    """Send `plan` as `reply` times it; return the finished response.

    Raises `ResetByReply` after resetting the connection on purpose, `ConnectionResetError` when a write
    finds the client gone, and lets the `CancelledError` of a client disconnect through.
    """
    if reply.delay_before_headers > 0:
        await asyncio.sleep(reply.delay_before_headers)
    if reply.reset_before_headers:
        raise _reset(request, progress)
    response = web.StreamResponse(status=plan.status, headers=CIMultiDict(plan.headers))
    if plan.chunked:
        response.enable_chunked_encoding()
    else:
        response.content_length = sum(len(chunk) for chunk in plan.chunks)
    await response.prepare(request)
    for index, chunk in enumerate(plan.chunks):
        if reply.reset_after_chunks is not None and index >= reply.reset_after_chunks:
            raise _reset(request, progress)
        if index and reply.chunk_delay > 0:
            await asyncio.sleep(reply.chunk_delay)
        await _write(response, chunk, reply.drip)
        progress.chunks_sent += 1
        if index == 0 and reply.first_chunk_then_stall:
            await asyncio.sleep(reply.first_chunk_then_stall)
    if reply.reset_after_chunks is not None and reply.reset_after_chunks <= len(plan.chunks):
        raise _reset(request, progress)
    await response.write_eof()
    return response
