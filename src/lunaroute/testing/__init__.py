"""Test helpers shipped with LunaRoute: a scripted fake upstream speaking the OpenAI and
Anthropic APIs, and `FakeBedrock` speaking AWS Bedrock Converse (SigV4 checked, event-stream framing).

async with FakeUpstream() as up:
    up.enqueue(Reply(answer=Answer(text="hi")), Reply(status=429, retry_after="1"))
    client = openai.AsyncOpenAI(base_url=up.openai_base_url, api_key="k")
    ...
    assert up.requests[0].path == "/v1/chat/completions"
"""

from __future__ import annotations

from lunaroute.providers.mock import Answer, StopReason, ToolCall, Usage

from ._bedrock import FakeBedrock
from ._gateway import GatewayFactory, GatewayServer, upstream_config
from ._records import Abort, ReceivedRequest
from ._reply import DEFAULT_ANSWER, Reply
from ._server import FakeUpstream
from ._sigv4 import AwsKeys

__all__ = [
    "DEFAULT_ANSWER",
    "Abort",
    "Answer",
    "AwsKeys",
    "FakeBedrock",
    "FakeUpstream",
    "GatewayFactory",
    "GatewayServer",
    "ReceivedRequest",
    "Reply",
    "StopReason",
    "ToolCall",
    "Usage",
    "upstream_config",
]
