"""The sampling decision for a request span, taken before the SDK is asked to make a span.

The SDK costs several microseconds to make even a span it drops; a request whose trace is not sampled should cost
next to nothing. `Presampler` mirrors the configured SDK sampler exactly (same rules, same trace-id bound), so the
SDK is only called for spans it will record, and it records them with the same decision. For a new trace the
trace id is drawn first (the ratio decision depends on it) and handed to the SDK through `PresetIds`, so a
sampled root keeps the id its decision was made on and samplers downstream decide alike.
"""

from __future__ import annotations

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from lunaroute.observability.tracing import Sampler

__all__ = ["Presampler", "PresetIds"]


class PresetIds(RandomIdGenerator):
    """Random ids, except that the next trace id can be chosen in advance.

    `preset` must be followed, on the same thread and with no other span started in between, by the
    `start_span` of the root span meant to get that id."""

    def __init__(self) -> None:
        self._next: int | None = None

    def preset(self, trace_id: int) -> None:
        self._next = trace_id

    def generate_trace_id(self) -> int:
        trace_id, self._next = self._next, None
        return trace_id if trace_id is not None else super().generate_trace_id()


class Presampler:
    """The decision of `sampler` (with `ratio`) for a request span, given its remote parent, if any."""

    __slots__ = ("_bound", "_kind")

    def __init__(self, sampler: Sampler, ratio: float) -> None:
        self._kind = sampler
        self._bound = TraceIdRatioBased.get_bound_for_rate(ratio)

    def sampled(self, trace_id: int, parent_sampled: bool | None) -> bool:
        """Whether the span of trace `trace_id` (the remote parent's, or a new one) records; `parent_sampled`
        is the remote parent's sampled flag, None without a parent.

        As the SDK samplers: `ratio` looks at the trace id only; `parent_based_ratio` follows a remote parent's
        sampled flag and applies the ratio to new traces."""
        match self._kind:
            case "always_on":
                return True
            case "always_off":
                return False
            case "parent_based_ratio" if parent_sampled is not None:
                return parent_sampled
        return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound
