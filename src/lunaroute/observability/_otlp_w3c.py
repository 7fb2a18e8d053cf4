"""W3C trace-context headers on the cheap path: find them, read a version-00 `traceparent`, write one.

Only what a sampled-out request needs, without the SDK's objects: the propagator
(`TraceContextTextMapPropagator`) still reads and writes the headers of every recorded span, and reads any
`traceparent` that this strict version-00 reader does not accept (other versions, surrounding blanks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

__all__ = ["TraceHeaders", "find_trace_headers", "format_traceparent", "parse_traceparent", "replace_trace_headers"]

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
_NAMES: Final = frozenset({TRACEPARENT, TRACESTATE})
_VERSION_00: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
SAMPLED: Final = 0x01
RANDOM_TRACE_ID: Final = 0x02
"""The trace-flags bits: sampled, and (W3C level 2) a trace id whose low 56 bits are random."""


class TraceHeaders(NamedTuple):
    """The client's first `traceparent` value and its `tracestate` values, in order."""

    traceparent: str
    tracestate: list[str]


def find_trace_headers(headers: Sequence[tuple[str, str]]) -> TraceHeaders | None:
    """The trace-context headers among `(name, value)` pairs (names in any case), or None without a
    `traceparent`. One pass."""
    traceparent: str | None = None
    tracestate: list[str] = []
    for name, value in headers:
        # The length test first: almost every other header differs in length, and `lower()` is the costly part.
        size = len(name)
        if size == 11 and traceparent is None and name.lower() == TRACEPARENT:
            traceparent = value
        elif size == 10 and name.lower() == TRACESTATE:
            tracestate.append(value)
    return None if traceparent is None else TraceHeaders(traceparent, tracestate)


def parse_traceparent(value: str) -> tuple[int, int] | None:
    """`(trace_id, flags)` of a valid version-00 `traceparent` written exactly to the spec, else None (which
    means "ask the propagator", not "invalid")."""
    match = _VERSION_00.fullmatch(value)
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return int(trace_id, 16), int(flags, 16)


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """A version-00 `traceparent`."""
    return "00-%032x-%016x-%02x" % (trace_id, span_id, flags)  # noqa: UP031 (faster than an f-string here)


def replace_trace_headers(headers: list[tuple[str, str]], traceparent: str, tracestate: str | None) -> None:
    """Drop every `traceparent`/`tracestate` from `headers` (lower-cased names; changed in place) and append the
    given ones."""
    headers[:] = [pair for pair in headers if pair[0] not in _NAMES]
    headers.append((TRACEPARENT, traceparent))
    if tracestate:
        headers.append((TRACESTATE, tracestate))
