"""Providers: the upstreams a request can be sent to (HTTP providers, AWS Bedrock and the built-in mock)."""

from lunaroute.providers._bedrock import BedrockProvider
from lunaroute.providers._buffered import BufferedResponse
from lunaroute.providers._http import HttpProvider, HttpUpstreamResponse

__all__ = ["BedrockProvider", "BufferedResponse", "HttpProvider", "HttpUpstreamResponse"]
