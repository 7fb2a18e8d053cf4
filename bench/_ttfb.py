"""Streaming time to first byte: from sending a request to holding its first complete SSE event.

One keep-alive connection per target; targets are sampled in turn (round robin) so that drift in the
machine's load touches them all alike.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Mapping

from _payloads import STREAM_HEADER, chat_request

__all__ = ["measure_ttfb"]

_PATH = "/v1/chat/completions"


class _Probe:
    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self._body = chat_request(True)
        self._headers = {"content-type": "application/json", STREAM_HEADER: "1"}

    def sample(self) -> float:
        """Seconds to the first event; the rest of the stream is then read and dropped."""
        started = time.perf_counter()
        self._conn.request("POST", _PATH, body=self._body, headers=self._headers)
        answer = self._conn.getresponse()
        head = b""
        while b"\n\n" not in head:
            chunk = answer.read1(65536)
            if not chunk:
                break
            head += chunk
        elapsed = time.perf_counter() - started
        answer.read()
        if answer.status != 200 or not head.startswith(b"data:"):
            raise RuntimeError(f"port {self._conn.port}: status {answer.status}, first bytes {head[:80]!r}")
        return elapsed

    def close(self) -> None:
        self._conn.close()


def measure_ttfb(ports: Mapping[str, int], count: int, warmup: int = 20) -> dict[str, float]:
    """Median time to first event in ms for each named target, over `count` requests after `warmup`."""
    probes = {name: _Probe(port) for name, port in ports.items()}
    samples: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for i in range(warmup + count):
            for name, probe in probes.items():
                seconds = probe.sample()
                if i >= warmup:
                    samples[name].append(seconds)
    finally:
        for probe in probes.values():
            probe.close()
    return {name: statistics.median(values) * 1e3 for name, values in samples.items()}
