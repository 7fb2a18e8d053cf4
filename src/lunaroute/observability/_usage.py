"""Once per finished exchange, after the recorder parsed it: count tokens and cost in the metrics, and write
the access log line (which then knows the session id and the tokens)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from lunaroute.observability._metrics import Metrics
from lunaroute.recording.events import Completed, ResponseRecorded, SessionEvent
from lunaroute.types import ExchangeRecord

__all__ = ["usage_counter"]


_access = logging.getLogger("lunaroute.access")


def access_line(record: ExchangeRecord, events: list[SessionEvent]) -> None:
    """One structured access line: identity, route, outcome, timings and tokens. Never prompt content."""
    session_id = next((e.session_id for e in events), None)
    response = next((e for e in events if isinstance(e, ResponseRecorded)), None)
    _access.info(
        "request",
        extra={
            "request_id": record.request_id,
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


def usage_counter(
    metrics: Metrics, *, log_requests: bool = False
) -> Callable[[ExchangeRecord, list[SessionEvent]], None]:
    """An observer for `Capture`: moves `lunaroute_tokens_total` and `lunaroute_cost_usd_total`, and writes the
    access line when `log_requests`."""

    def observe(record: ExchangeRecord, events: list[SessionEvent]) -> None:
        if log_requests:
            access_line(record, events)
        provider = record.provider or "gateway"
        for event in events:
            if isinstance(event, ResponseRecorded):
                metrics.tokens_used(
                    provider,
                    event.model_used or record.model_sent or record.model_requested,
                    {
                        "input": event.input_tokens,
                        "output": event.output_tokens,
                        "cache_read": event.cache_read_tokens or 0,
                        "cache_creation": event.cache_creation_tokens or 0,
                        "reasoning": (event.reasoning_tokens or 0) + (event.thinking_tokens or 0),
                    },
                )
            elif isinstance(event, Completed) and event.estimated_cost is not None:
                cost = event.estimated_cost
                metrics.cost_incurred(provider, cost.model, cost.total_cost_usd)

    return observe
