"""Test helpers shipped with LunaRoute: a scripted fake upstream speaking the OpenAI, Anthropic, Gemini and Vertex
AI APIs (with an OAuth token endpoint and `write_service_account` for its credentials).

async with FakeUpstream() as up:
    up.enqueue(Reply(answer=Answer(text="hi")), Reply(status=429, retry_after="1"))
    client = openai.AsyncOpenAI(base_url=up.openai_base_url, api_key="k")
    ...
    assert up.requests[0].path == "/v1/chat/completions"
"""

from __future__ import annotations

from lunaroute.providers.mock import Answer, StopReason, ToolCall, Usage

from ._gateway import GatewayFactory, GatewayServer, upstream_config
from ._google import TokenIssuer, write_service_account
from ._records import Abort, ReceivedRequest
from ._reply import DEFAULT_ANSWER, Reply
from ._server import FakeUpstream

__all__ = [
    "DEFAULT_ANSWER",
    "Abort",
    "Answer",
    "FakeUpstream",
    "GatewayFactory",
    "GatewayServer",
    "ReceivedRequest",
    "Reply",
    "StopReason",
    "TokenIssuer",
    "ToolCall",
    "Usage",
    "upstream_config",
    "write_service_account",
]
