"""Prometheus metrics of one gateway instance, in its own registry (no process-global state).

The request path talks to a `Metrics` (or, with metrics off, a `NullMetrics`) through the small methods below;
every family defined here is moved by one of them, and `tests/observability` asserts that each one moves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ModelLabels", "NullMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
OTHER = "other"


class ModelLabels:
    """Bounds the `model` label: names matching `allow` (all, when empty) keep their value until `max_distinct`
    names were seen; every other name becomes `other`, so a client cannot blow up the series count."""

    def __init__(self, allow: Sequence[str] = (), max_distinct: int = 64) -> None:
        self._allow = [re.compile(p) for p in allow]
        self._max = max_distinct
        self._seen: dict[str, str] = {}

    def __call__(self, model: str | None) -> str:
        if not model:
            return "unknown"
        label = self._seen.get(model)
        if label is not None:
            return label
        allowed = not self._allow or any(p.search(model) for p in self._allow)
        label = model if allowed and len(self._seen) < self._max else OTHER
        if len(self._seen) < self._max * 4:
            self._seen[model] = label
        return label


class Metrics:
    """The metric families, with cached label children for the per-request calls."""

    def __init__(self, model_labels: ModelLabels | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.model_label = model_labels or ModelLabels()
        r = self.registry
        self.requests = Counter(
            "lunaroute_requests_total",
            "Requests answered, by client dialect, endpoint, provider that finally served, status and streaming.",
            ("listener", "endpoint", "provider", "status", "streaming"),
            registry=r,
        )
        self.duration = Histogram(
            "lunaroute_request_duration_seconds",
            "Time from the request's arrival to the end of its response (streams included).",
            ("listener", "endpoint"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "lunaroute_gateway_overhead_seconds",
            "Time spent in the gateway's own code before the upstream call was sent.",
            ("listener", "endpoint"),
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream_ttfb = Histogram(
            "lunaroute_upstream_ttfb_seconds",
            "Time from sending a call upstream to its response head.",
            ("provider",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_byte = Histogram(
            "lunaroute_stream_first_byte_seconds",
            "Time to first token of streams: request arrival to the first stream bytes sent to the client.",
            ("listener", "endpoint"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stream_duration = Histogram(
            "lunaroute_stream_duration_seconds",
            "Time from the first to the last stream bytes sent to the client.",
            ("listener", "endpoint"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.translation = Histogram(
            "lunaroute_translation_seconds",
            "Time to translate a request from the client's dialect to the provider's.",
            ("from_dialect", "to_dialect"),
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("lunaroute_requests_in_flight", "Requests being answered now.", registry=r)
        self.upstream_errors = Counter(
            "lunaroute_upstream_errors_total",
            "Upstream calls that failed before or during the response, by kind (unreachable, timeout).",
            ("provider", "kind"),
            registry=r,
        )
        self.keepalives = Counter(
            "lunaroute_sse_keepalives_total",
            "SSE keepalive comments sent to clients while an upstream stream was silent.",
            registry=r,
        )
        self.disconnects = Counter(
            "lunaroute_client_disconnects_total",
            "Requests whose client went away before the response was complete.",
            ("listener", "endpoint"),
            registry=r,
        )
        self.stream_chunks = Counter(
            "lunaroute_stream_chunks_total", "Stream chunks relayed to clients.", ("listener", "endpoint"), registry=r
        )
        self.fallbacks = Counter(
            "lunaroute_fallbacks_total",
            "Requests passed on from one provider to the next in their chain, by reason.",
            ("from_provider", "to_provider", "reason"),
            registry=r,
        )
        self.retries = Counter(
            "lunaroute_retries_total",
            "Upstream attempts repeated on the same provider, by provider and reason.",
            ("provider", "reason"),
            registry=r,
        )
        self.breaker_skips = Counter(
            "lunaroute_breaker_skips_total",
            "Providers skipped because their circuit breaker was open.",
            ("provider",),
            registry=r,
        )
        self.breaker_transitions = Counter(
            "lunaroute_breaker_transitions_total",
            "Circuit breaker state changes, by provider, old and new state.",
            ("provider", "from_state", "to_state"),
            registry=r,
        )
        self.tokens = Counter(
            "lunaroute_tokens_total",
            "Tokens by provider, model and kind (input, output, cache_read, cache_creation, reasoning), "
            "as recorded (estimated when a stream carried no usage).",
            ("provider", "model", "kind"),
            registry=r,
        )
        self.cost = Counter(
            "lunaroute_cost_usd_total",
            "Estimated cost in US dollars from the shipped price table, by provider and model.",
            ("provider", "model"),
            registry=r,
        )
        self.auth_failures = Counter(
            "lunaroute_auth_failures_total",
            "Requests refused by gateway key checks, by reason (missing, unknown, expired, revoked, rotated, "
            "throttled, model_not_allowed, endpoint_not_allowed).",
            ("reason",),
            registry=r,
        )
        self.rate_limited = Counter(
            "lunaroute_rate_limited_total",
            "Requests refused with 429 by a gateway limit, by scope (key, team, model) and kind (rpm, tpm, "
            "max_parallel, budget).",
            ("scope", "kind"),
            registry=r,
        )
        self.limit_state_errors = Counter(
            "lunaroute_limit_state_errors_total",
            "Limit checks the state store could not answer, by what was done (fail_open: served unlimited, "
            "fail_closed: refused with 503).",
            ("outcome",),
            registry=r,
        )
        self.spend = Counter(
            "lunaroute_spend_usd_total",
            "Spend settled against budgets (list prices, US dollars), by team ('' for keys without one).",
            ("team",),
            registry=r,
        )
        self.budget_used = Gauge(
            "lunaroute_budget_utilisation_ratio",
            "Share of each budget spent or held by requests under way, as of its last request (1 = used up), by "
            "scope (key, team) and budget (the key's id or the team's name).",
            ("scope", "budget"),
            registry=r,
        )
        self.budget_soft = Counter(
            "lunaroute_budget_soft_limit_total",
            "Budgets that passed their soft limit in a period (counted once per budget and period), by scope.",
            ("scope",),
            registry=r,
        )
        self.connections_open = Gauge(
            "lunaroute_connections_open", "Client connections open on the gateway listener.", registry=r
        )
        self.connections_refused = Counter(
            "lunaroute_connections_refused_total",
            "Client connections closed on arrival because a cap was reached (global_cap, client_cap).",
            ("reason",),
            registry=r,
        )
        self.connection_timeouts = Counter(
            "lunaroute_connection_timeouts_total",
            "Client connections closed by a deadline: header (no complete request head in time), idle (keep-alive).",
            ("phase",),
            registry=r,
        )
        self.requests_shed = Counter(
            "lunaroute_requests_shed_total",
            "Requests answered 503 because the in-flight request cap was reached, by client dialect.",
            ("listener",),
            registry=r,
        )
        self.config_reloads = Counter(
            "lunaroute_config_reloads_total",
            "Config reloads (SIGHUP, `lunaroute reload`, POST /admin/reload, the file watch) by result: ok, error.",
            ("result",),
            registry=r,
        )
        self.recording_degraded = Gauge(
            "lunaroute_recording_degraded",
            "1 while session recording is degraded for this reason (journal, losing, stores, behind, recorder), else 0.",
            ("reason",),
            registry=r,
        )
        self.recording_episodes = Counter(
            "lunaroute_recording_degraded_episodes_total",
            "Episodes of degraded session recording begun (each is logged once).",
            registry=r,
        )
        self.requests_refused_unrecorded = Counter(
            "lunaroute_requests_refused_unrecorded_total",
            "Requests answered 503 because session_recording.required is set and recording was impossible, by "
            "client dialect.",
            ("listener",),
            registry=r,
        )
        self._counters: dict[tuple[object, ...], Counter] = {}
        self._histograms: dict[tuple[object, ...], Histogram] = {}

    def _count(self, metric: Counter, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (id(metric), *labels)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = metric.labels(*labels)
        child.inc(amount)

    def _observe(self, metric: Histogram, labels: tuple[str, ...], value: float) -> None:
        key = (id(metric), *labels)
        child = self._histograms.get(key)
        if child is None:
            child = self._histograms[key] = metric.labels(*labels)
        child.observe(value)

    # -- the request path -------------------------------------------------------------------------------

    def request_started(self) -> None:
        self.in_flight.inc()

    def request_ended(
        self, listener: str, endpoint: str, provider: str, status: int, streaming: bool, seconds: float
    ) -> None:
        self.in_flight.dec()
        self._count(self.requests, (listener, endpoint, provider, str(status), "true" if streaming else "false"))
        self._observe(
            self.duration,
            (
                listener,
                endpoint,
            ),
            seconds,
        )

    def overhead_seen(self, listener: str, endpoint: str, seconds: float) -> None:
        self._observe(
            self.overhead,
            (
                listener,
                endpoint,
            ),
            seconds,
        )

    def upstream_head(self, provider: str, seconds: float) -> None:
        self._observe(self.upstream_ttfb, (provider,), seconds)

    def stream_started(self, listener: str, endpoint: str, seconds: float) -> None:
        self._observe(
            self.first_byte,
            (
                listener,
                endpoint,
            ),
            seconds,
        )

    def stream_ended(self, listener: str, endpoint: str, seconds: float, chunks: int) -> None:
        self._observe(
            self.stream_duration,
            (
                listener,
                endpoint,
            ),
            seconds,
        )
        self._count(
            self.stream_chunks,
            (
                listener,
                endpoint,
            ),
            chunks,
        )

    def keepalive_sent(self) -> None:
        self.keepalives.inc()

    def auth_refused(self, reason: str) -> None:
        self._count(self.auth_failures, (reason,))

    def limited(self, scope: str, kind: str) -> None:
        self._count(self.rate_limited, (scope, kind))

    def limit_state_failed(self, outcome: str) -> None:
        self._count(self.limit_state_errors, (outcome,))

    def spent(self, team: str, usd: float) -> None:
        self._count(self.spend, (team,), usd)

    def budget_soft_limit(self, scope: str) -> None:
        self._count(self.budget_soft, (scope,))

    def budget_utilisation(self, scope: str, budget: str, ratio: float) -> None:
        self.budget_used.labels(scope, budget).set(ratio)

    def client_gone(self, listener: str, endpoint: str) -> None:
        self._count(
            self.disconnects,
            (
                listener,
                endpoint,
            ),
        )

    def translated(self, from_dialect: str, to_dialect: str, seconds: float) -> None:
        self._observe(
            self.translation,
            (
                from_dialect,
                to_dialect,
            ),
            seconds,
        )

    def upstream_error(self, provider: str, kind: str) -> None:
        self._count(
            self.upstream_errors,
            (
                provider,
                kind,
            ),
        )

    def fell_back(self, from_provider: str, to_provider: str, reason: str) -> None:
        self._count(
            self.fallbacks,
            (
                from_provider,
                to_provider,
                reason,
            ),
        )

    def retried(self, provider: str, reason: str) -> None:
        self._count(
            self.retries,
            (
                provider,
                reason,
            ),
        )

    def breaker_skipped(self, provider: str) -> None:
        self._count(self.breaker_skips, (provider,))

    def breaker_changed(self, provider: str, old: str, new: str) -> None:
        self._count(
            self.breaker_transitions,
            (
                provider,
                old,
                new,
            ),
        )

    # -- the listener ----------------------------------------------------------------------------------------

    def connection_opened(self) -> None:
        self.connections_open.inc()

    def connection_closed(self) -> None:
        self.connections_open.dec()

    def connection_refused(self, reason: str) -> None:
        self._count(self.connections_refused, (reason,))

    def connection_timed_out(self, phase: str) -> None:
        self._count(self.connection_timeouts, (phase,))

    def request_shed(self, listener: str) -> None:
        self._count(self.requests_shed, (listener,))

    def request_refused_unrecorded(self, listener: str) -> None:
        self._count(self.requests_refused_unrecorded, (listener,))

    # -- the recorder (off the request path) --------------------------------------------------------------

    def recording_state(self, reasons: Sequence[str]) -> None:
        """Set `lunaroute_recording_degraded` from the reasons recording is degraded now (every known reason
        gets a sample, 0 or 1)."""
        for reason in ("journal", "losing", "stores", "behind", "recorder"):
            self.recording_degraded.labels(reason).set(1.0 if reason in reasons else 0.0)

    def recording_episode(self) -> None:
        self.recording_episodes.inc()

    def tokens_used(self, provider: str, model: str | None, counts: dict[str, int]) -> None:
        label = self.model_label(model)
        for kind, value in counts.items():
            if value > 0:
                self._count(
                    self.tokens,
                    (
                        provider,
                        label,
                        kind,
                    ),
                    value,
                )

    def cost_incurred(self, provider: str, model: str | None, usd: float) -> None:
        if usd > 0:
            self._count(self.cost, (provider, self.model_label(model)), usd)

    def config_reloaded(self, result: str) -> None:
        self._count(self.config_reloads, (result,))

    def exposition(self) -> bytes | None:
        return generate_latest(self.registry)


class NullMetrics(Metrics):
    """Metrics switched off (`observability.metrics.enabled: false`): every call is a no-op, `/metrics` is 404."""

    def __init__(self) -> None:
        super().__init__()

    def request_started(self) -> None:
        return None

    def request_ended(
        self, listener: str, endpoint: str, provider: str, status: int, streaming: bool, seconds: float
    ) -> None:
        return None

    def overhead_seen(self, listener: str, endpoint: str, seconds: float) -> None:
        return None

    def upstream_head(self, provider: str, seconds: float) -> None:
        return None

    def stream_started(self, listener: str, endpoint: str, seconds: float) -> None:
        return None

    def stream_ended(self, listener: str, endpoint: str, seconds: float, chunks: int) -> None:
        return None

    def keepalive_sent(self) -> None:
        return None

    def client_gone(self, listener: str, endpoint: str) -> None:
        return None

    def auth_refused(self, reason: str) -> None:
        return None

    def limited(self, scope: str, kind: str) -> None:
        return None

    def limit_state_failed(self, outcome: str) -> None:
        return None

    def spent(self, team: str, usd: float) -> None:
        return None

    def budget_soft_limit(self, scope: str) -> None:
        return None

    def budget_utilisation(self, scope: str, budget: str, ratio: float) -> None:
        return None

    def translated(self, from_dialect: str, to_dialect: str, seconds: float) -> None:
        return None

    def upstream_error(self, provider: str, kind: str) -> None:
        return None

    def fell_back(self, from_provider: str, to_provider: str, reason: str) -> None:
        return None

    def retried(self, provider: str, reason: str) -> None:
        return None

    def breaker_skipped(self, provider: str) -> None:
        return None

    def breaker_changed(self, provider: str, old: str, new: str) -> None:
        return None

    def connection_opened(self) -> None:
        return None

    def connection_closed(self) -> None:
        return None

    def connection_refused(self, reason: str) -> None:
        return None

    def connection_timed_out(self, phase: str) -> None:
        return None

    def request_shed(self, listener: str) -> None:
        return None

    def request_refused_unrecorded(self, listener: str) -> None:
        return None

    def recording_state(self, reasons: Sequence[str]) -> None:
        return None

    def recording_episode(self) -> None:
        return None

    def tokens_used(self, provider: str, model: str | None, counts: dict[str, int]) -> None:
        return None

    def cost_incurred(self, provider: str, model: str | None, usd: float) -> None:
        return None

    def config_reloaded(self, result: str) -> None:
        return None

    def exposition(self) -> bytes | None:
        return None
