"""Routing: classify a request, then choose the providers that serve it (header, marker, rules, default)."""

from lunaroute.routing._classify import Route, classify, normalise_path
from lunaroute.routing._markers import MARKER_BYTES, MarkerResult, find_marker
from lunaroute.routing._rules import Rule, RuleTable
from lunaroute.routing._select import PROVIDER_HEADER, Decision, Router

__all__ = [
    "MARKER_BYTES",
    "PROVIDER_HEADER",
    "Decision",
    "MarkerResult",
    "Route",
    "Router",
    "Rule",
    "RuleTable",
    "classify",
    "find_marker",
    "normalise_path",
]
