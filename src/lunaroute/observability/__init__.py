"""Observability: Prometheus metrics and logging set-up."""

from lunaroute.observability._logging import configure_logging
from lunaroute.observability._metrics import CONTENT_TYPE_LATEST, Metrics, ModelLabels, NullMetrics

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ModelLabels", "NullMetrics", "configure_logging"]
