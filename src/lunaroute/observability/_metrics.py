"""Prometheus metrics of one gateway instance, in its own registry (no process-global state).

Every family defined here is incremented on the request path; `tests/observability` asserts each one moves.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Metrics:
    """The metric families and cheap cached label children for the hot path."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "lunaroute_requests_total",
            "Requests answered, by client dialect, endpoint, provider and HTTP status.",
            ("listener", "endpoint", "provider", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "lunaroute_request_duration_seconds",
            "Time from the request's arrival to the end of its response (streams included).",
            ("listener", "endpoint"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.overhead = Histogram(
            "lunaroute_gateway_overhead_seconds",
            "Time spent in the gateway's own code before the upstream call was sent.",
            ("listener", "endpoint"),
            buckets=_OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge("lunaroute_requests_in_flight", "Requests being answered now.", registry=self.registry)
        self.upstream_errors = Counter(
            "lunaroute_upstream_errors_total",
            "Upstream calls that failed before or during the response, by kind (unreachable, timeout).",
            ("provider", "kind"),
            registry=self.registry,
        )
        self.keepalives = Counter(
            "lunaroute_sse_keepalives_total",
            "SSE keepalive comments sent to clients while an upstream stream was silent.",
            registry=self.registry,
        )
        self.disconnects = Counter(
            "lunaroute_client_disconnects_total",
            "Requests whose client went away before the response was complete.",
            ("listener", "endpoint"),
            registry=self.registry,
        )
        self.stream_chunks = Counter(
            "lunaroute_stream_chunks_total",
            "Stream chunks relayed to clients.",
            ("listener", "endpoint"),
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "lunaroute_fallbacks_total",
            "Requests passed on from one provider to the next in their chain, by reason.",
            ("from_provider", "to_provider", "reason"),
            registry=self.registry,
        )
        self.translation = Histogram(
            "lunaroute_translation_seconds",
            "Time to translate a request from the client's dialect to the provider's.",
            ("from_dialect", "to_dialect"),
            buckets=_OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "lunaroute_retries_total",
            "Upstream attempts repeated on the same provider, by provider and reason.",
            ("provider", "reason"),
            registry=self.registry,
        )
        self.breaker_skips = Counter(
            "lunaroute_breaker_skips_total",
            "Providers skipped because their circuit breaker was open.",
            ("provider",),
            registry=self.registry,
        )
        self.breaker_transitions = Counter(
            "lunaroute_breaker_transitions_total",
            "Circuit breaker state changes, by provider, old and new state.",
            ("provider", "from_state", "to_state"),
            registry=self.registry,
        )
        self._duration_children: dict[tuple[str, str], Histogram] = {}
        self._overhead_children: dict[tuple[str, str], Histogram] = {}
        self._request_children: dict[tuple[str, str, str, str], Counter] = {}

    def count_request(self, listener: str, endpoint: str, provider: str, status: int) -> None:
        key = (listener, endpoint, provider, str(status))
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(*key)
        child.inc()

    def observe_duration(self, listener: str, endpoint: str, seconds: float) -> None:
        key = (listener, endpoint)
        child = self._duration_children.get(key)
        if child is None:
            child = self._duration_children[key] = self.duration.labels(*key)
        child.observe(seconds)

    def observe_overhead(self, listener: str, endpoint: str, seconds: float) -> None:
        key = (listener, endpoint)
        child = self._overhead_children.get(key)
        if child is None:
            child = self._overhead_children[key] = self.overhead.labels(*key)
        child.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
