"""Providers: the upstreams a request can be sent to (HTTP providers, Google's, and the built-in mock)."""

from lunaroute.providers._buffered import BufferedResponse
from lunaroute.providers._google import GeminiProvider, VertexProvider
from lunaroute.providers._google_auth import GoogleToken, TokenUnavailable
from lunaroute.providers._http import HttpProvider, HttpUpstreamResponse

__all__ = [
    "BufferedResponse",
    "GeminiProvider",
    "GoogleToken",
    "HttpProvider",
    "HttpUpstreamResponse",
    "TokenUnavailable",
    "VertexProvider",
]
