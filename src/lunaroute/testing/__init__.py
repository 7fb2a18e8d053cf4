"""Test helpers shipped with LunaRoute: a scripted fake upstream speaking the OpenAI, Anthropic, Gemini and Vertex
AI APIs (with an OAuth token endpoint and `write_service_account` for its credentials), `FakeBedrock` speaking AWS
Bedrock Converse (SigV4 checked, event-stream framing) and `FakeAzure` speaking Azure OpenAI (deployments,
api-version, api-key or Entra token).

async with FakeUpstream() as up:
    up.enqueue(Reply(answer=Answer(text="hi")), Reply(status=429, retry_after="1"))
    client = openai.AsyncOpenAI(base_url=up.openai_base_url, api_key="k")
    ...
    assert up.requests[0].path == "/v1/chat/completions"
"""

from __future__ import annotations

from lunaroute.providers.mock import Answer, StopReason, ToolCall, Usage

from ._azure import FakeAzure
from ._bedrock import FakeBedrock
from ._bedrock_wire import converse_body
from ._gateway import GatewayFactory, GatewayServer, upstream_config
from ._google import TokenIssuer, write_service_account
from ._records import Abort, ReceivedRequest
from ._reply import DEFAULT_ANSWER, Reply
from ._server import FakeUpstream
from ._sigv4 import AwsKeys

__all__ = [
    "DEFAULT_ANSWER",
    "Abort",
    "Answer",
    "AwsKeys",
    "FakeAzure",
    "FakeBedrock",
    "FakeUpstream",
    "GatewayFactory",
    "GatewayServer",
    "ReceivedRequest",
    "Reply",
    "StopReason",
    "TokenIssuer",
    "ToolCall",
    "Usage",
    "converse_body",
    "upstream_config",
    "write_service_account",
]
