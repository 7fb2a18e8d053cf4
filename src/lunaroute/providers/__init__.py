"""Providers: the upstreams a request can be sent to (HTTP providers, Azure OpenAI, AWS Bedrock, the mock)."""

from lunaroute.providers._azure import AzureProvider
from lunaroute.providers._bedrock import BedrockProvider
from lunaroute.providers._buffered import BufferedResponse
from lunaroute.providers._http import HttpProvider, HttpUpstreamResponse

__all__ = ["AzureProvider", "BedrockProvider", "BufferedResponse", "HttpProvider", "HttpUpstreamResponse"]
