"""A Python load generator, used when wrk is not available (it saturates sooner than wrk: compare rows only).

`_pyload.py URL BODY_FILE CONNECTIONS SECONDS [STREAM_HEADER]` prints one `BENCH-RESULT {json}` line.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from _payloads import BENCH_KEY

_MARK = "BENCH-RESULT "


@dataclass
class _Tally:
    deadline: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def more(self) -> bool:
        return time.perf_counter() < self.deadline


async def _worker(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], tally: _Tally
) -> None:
    while tally.more():
        started = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                ok = answer.status < 400
        except aiohttp.ClientError:
            ok = False
        if ok:
            tally.latencies.append(time.perf_counter() - started)
        else:
            tally.errors += 1


def _percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def _main(argv: list[str], body: bytes) -> None:
    url, connections, seconds = argv[0], int(argv[2]), float(argv[3])
    headers = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
    if len(argv) > 4 and argv[4]:
        headers[argv[4]] = "1"
    started = time.perf_counter()
    tally = _Tally(deadline=started + seconds)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(_worker(session, url, body, headers, tally) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    result = {
        "requests": len(tally.latencies) + tally.errors,
        "seconds": elapsed,
        "p50_ms": _percentile(tally.latencies, 50) * 1e3,
        "p99_ms": _percentile(tally.latencies, 99) * 1e3,
        "errors": tally.errors,
    }
    print(_MARK + json.dumps(result))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1:], Path(sys.argv[2]).read_bytes()))
