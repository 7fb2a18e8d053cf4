"""Metrics across the processes of `serve --workers N`: each process serves its own exposition on a Unix socket in
the run's private directory, and a worker answering `/metrics` reads every other one's and merges them
(`observability.merge_expositions`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from lunaroute.observability._merge import merge_expositions

__all__ = ["gather_expositions", "serve_exposition", "socket_path"]

_log = logging.getLogger("lunaroute.server.workers")
READ_TIMEOUT_SECS = 2.0


def socket_path(run_dir: Path, name: str) -> Path:
    """Where process `name` (`supervisor`, `worker-0`, ...) serves its exposition."""
    return run_dir / f"{name}.sock"


async def serve_exposition(path: Path, exposition: Callable[[], bytes | None]) -> asyncio.Server:
    """Answer each connection to `path` with `exposition()` and close it (no request is read). A socket file left
    at `path` by a process that is gone is replaced."""

    async def answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(exposition() or b"")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_unix_server(answer, path=str(path))


async def _read(path: Path) -> str | None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), READ_TIMEOUT_SECS)
    except (OSError, TimeoutError):
        return None  # a worker being restarted: the others still make a useful answer
    try:
        return (await asyncio.wait_for(reader.read(), READ_TIMEOUT_SECS)).decode()
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()


async def gather_expositions(own: bytes, peers: list[Path]) -> bytes:
    """`own` merged with the expositions served at `peers` (those that do not answer in time are left out)."""
    texts = await asyncio.gather(*(_read(path) for path in peers))
    missing = [path.name for path, text in zip(peers, texts, strict=True) if text is None]
    if missing:
        _log.warning("metrics of %s not read; /metrics reports the other processes", ", ".join(missing))
    return merge_expositions([own.decode(), *(text for text in texts if text is not None)])
