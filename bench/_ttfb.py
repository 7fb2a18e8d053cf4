"""Streaming time to first byte of `run.py`'s chat requests: from sending a request to holding its first complete
SSE event, one keep-alive connection per target, targets sampled in turn (see `_variants_probe.measure_ttfb`)."""

from __future__ import annotations

from collections.abc import Mapping

from _payloads import chat_request
from _variants_probe import Request
from _variants_probe import measure_ttfb as _measure

__all__ = ["measure_ttfb"]

_PATH = "/v1/chat/completions"


def measure_ttfb(ports: Mapping[str, int], count: int, warmup: int = 20) -> dict[str, float]:
    """Median time to the first event in ms for each named target, over `count` requests after `warmup`."""
    body = chat_request(True)
    return _measure({name: Request(port, _PATH, body) for name, port in ports.items()}, count, warmup)
