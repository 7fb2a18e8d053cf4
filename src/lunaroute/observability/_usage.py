"""Once per finished exchange, after the recorder process parsed it: the access log line (written by that
process, which then knows the session id and the tokens), and the token and cost counters (moved by the gateway
from the process's usage reports)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from lunaroute.observability._metrics import Metrics
from lunaroute.recording.events import ResponseRecorded, SessionEvent
from lunaroute.recording.worker._protocol import UsageReport
from lunaroute.types import ExchangeRecord

__all__ = ["access_line", "usage_counter"]


_access = logging.getLogger("lunaroute.access")


def access_line(record: ExchangeRecord, events: list[SessionEvent]) -> None:
    """One structured access line: identity, route, outcome, timings and tokens. Never prompt content."""
    session_id = next((e.session_id for e in events), None)
    response = next((e for e in events if isinstance(e, ResponseRecorded)), None)
    _access.info(
        "request",
        extra={
            "request_id": record.request_id,
            "client_request_id": record.client_request_id,
            "session_id": session_id,
            "method": record.method,
            "path": record.path,
            "listener": record.listener,
            "endpoint": record.endpoint.value,
            "provider": record.provider or "gateway",
            "route": record.route,
            "model": record.model_sent or record.model_requested,
            "status": record.status,
            "outcome": record.outcome,
            "streaming": record.is_streaming,
            "duration_ms": record.finished_ms,
            "first_byte_ms": record.first_byte_ms,
            "input_tokens": response.input_tokens if response is not None else None,
            "output_tokens": response.output_tokens if response is not None else None,
            "tokens_estimated": response.tokens_estimated if response is not None else None,
        },
    )


def usage_counter(metrics: Metrics) -> Callable[[UsageReport], None]:
    """A `UsageReport` sink for the recorder process's reports: moves `lunaroute_tokens_total` and
    `lunaroute_cost_usd_total`."""

    def observe(report: UsageReport) -> None:
        metrics.tokens_used(
            report.provider,
            report.model,
            {
                "input": report.input,
                "output": report.output,
                "cache_read": report.cache_read,
                "cache_creation": report.cache_creation,
                "reasoning": report.reasoning,
            },
        )
        if report.cost_model is not None and report.cost_usd is not None:
            metrics.cost_incurred(report.provider, report.cost_model, report.cost_usd)

    return observe
