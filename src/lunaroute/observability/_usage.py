"""Count recorded usage in the metrics: tokens by kind and estimated cost, once per finished exchange."""

from __future__ import annotations

from collections.abc import Callable

from lunaroute.observability._metrics import Metrics
from lunaroute.recording.events import Completed, ResponseRecorded, SessionEvent
from lunaroute.types import ExchangeRecord

__all__ = ["usage_counter"]


def usage_counter(metrics: Metrics) -> Callable[[ExchangeRecord, list[SessionEvent]], None]:
    """An observer for `Capture`: moves `lunaroute_tokens_total` and `lunaroute_cost_usd_total`."""

    def observe(record: ExchangeRecord, events: list[SessionEvent]) -> None:
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
