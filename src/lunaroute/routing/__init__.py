"""Routing: classify a request, then choose the provider that serves it."""

from lunaroute.routing._classify import Route, classify, normalise_path
from lunaroute.routing._select import PROVIDER_HEADER, ProviderTable

__all__ = ["PROVIDER_HEADER", "ProviderTable", "Route", "classify", "normalise_path"]
