"""Single requests for `variants.py`: a check that a variant answers 200 with the right dialect, and streaming TTFB.

TTFB is the time from sending a request to holding its first complete SSE event (OpenAI `data:` chunk or
Anthropic `event:`/`data:` pair), as in `_ttfb.py`, but for any path and body: the translated variant sends the
Anthropic body to /v1/messages. Targets are sampled in turn on one keep-alive connection each.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass

from _payloads import BENCH_KEY, STREAM_HEADER

__all__ = ["Request", "check_answers", "measure_ttfb"]


@dataclass(frozen=True)
class Request:
    port: int
    path: str
    body: bytes
    """The streaming body (`"stream": true`)."""


def _headers(stream: bool, anthropic: bool) -> dict[str, str]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
    if anthropic:
        headers["anthropic-version"] = "2023-06-01"
    if stream:
        headers[STREAM_HEADER] = "1"
    return headers


def check_answers(port: int, path: str, json_body: bytes, stream_body: bytes, anthropic: bool) -> None:
    """One JSON and one streamed request: each must answer 200 in the expected dialect (else RuntimeError), so
    that a variant whose requests fail can never pass for a fast one."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=json_body, headers=_headers(False, anthropic))
        answer = conn.getresponse()
        body = answer.read()
        parsed = json.loads(body) if answer.status == 200 else {}
        responses = path.endswith("/responses")
        expected = "response" if responses else "chat.completion"
        ok = parsed.get("type") == "message" if anthropic else parsed.get("object") == expected
        if answer.status != 200 or not ok:
            raise RuntimeError(f"{path} (JSON): status {answer.status}, body {body[:300]!r}")
        conn.request("POST", path, body=stream_body, headers=_headers(True, anthropic))
        answer = conn.getresponse()
        body = answer.read()
        end = b"event: message_stop" if anthropic else b"event: response.completed" if responses else b"data: [DONE]"
        if answer.status != 200 or end not in body:
            raise RuntimeError(f"{path} (stream): status {answer.status}, body {body[:300]!r}")
    finally:
        conn.close()


class _Probe:
    def __init__(self, request: Request) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", request.port, timeout=10)
        self._request = request
        self._headers = _headers(True, request.path.startswith("/v1/messages"))

    def sample(self) -> float:
        """Seconds to the first complete event; the rest of the stream is then read and dropped."""
        started = time.perf_counter()
        self._conn.request("POST", self._request.path, body=self._request.body, headers=self._headers)
        answer = self._conn.getresponse()
        head = b""
        while b"\n\n" not in head:
            chunk = answer.read1(65536)
            if not chunk:
                break
            head += chunk
        elapsed = time.perf_counter() - started
        answer.read()
        if answer.status != 200 or not head.startswith((b"data:", b"event:")) or b"\n\n" not in head:
            raise RuntimeError(f"{self._request.path}: status {answer.status}, first bytes {head[:80]!r}")
        return elapsed

    def close(self) -> None:
        self._conn.close()


def measure_ttfb(targets: Mapping[str, Request], count: int, warmup: int = 20) -> dict[str, float]:
    """Median time to the first event in ms for each named target, over `count` requests after `warmup`."""
    probes = {name: _Probe(request) for name, request in targets.items()}
    samples: dict[str, list[float]] = {name: [] for name in targets}
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
