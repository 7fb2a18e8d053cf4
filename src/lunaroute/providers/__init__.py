"""Providers: the upstreams a request can be sent to (HTTP providers, Azure OpenAI, AWS Bedrock, Google's Gemini
and Vertex AI, the built-in mock)."""

from lunaroute.providers._azure import AzureProvider
from lunaroute.providers._bedrock import BedrockProvider
from lunaroute.providers._buffered import BufferedResponse
from lunaroute.providers._google import GeminiProvider, VertexProvider
from lunaroute.providers._google_auth import GoogleToken, TokenUnavailable
from lunaroute.providers._http import HttpProvider, HttpUpstreamResponse

__all__ = [
    "AzureProvider",
    "BedrockProvider",
    "BufferedResponse",
    "GeminiProvider",
    "GoogleToken",
    "HttpProvider",
    "HttpUpstreamResponse",
    "TokenUnavailable",
    "VertexProvider",
]
