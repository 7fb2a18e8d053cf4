"""The real Claude Code CLI through the gateway to a Bedrock provider, with a tool round trip (against
`FakeBedrock`, which checks every request's SigV4 signature and shape as AWS does)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.e2e.test_real_clients import MARKER, _claude, _report, claude_bin

from lunaroute.testing import Answer, FakeBedrock, GatewayFactory, Reply, ToolCall

pytestmark = pytest.mark.e2e

__all__ = ["claude_bin"]

BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrock]:
    async with FakeBedrock() as fake:
        yield fake


async def test_claude_code_on_bedrock_with_a_tool_round_trip(
    claude_bin: Path, bedrock: FakeBedrock, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        providers={
            "bedrock": {
                "provider_type": "bedrock",
                "base_url": bedrock.url,
                "region": bedrock.region,
                "model": BEDROCK_MODEL,
                "aws_access_key_id": bedrock.keys.access_key_id,
                "aws_secret_access_key": bedrock.keys.secret_access_key,
            }
        },
        routing={"rules": [{"name": "claude-on-bedrock", "model_pattern": "^claude-", "primary": "bedrock"}]},
    )
    call = ToolCall(
        name="Bash",
        arguments=json.dumps({"command": f"echo {MARKER}", "description": "Print a marker"}),
        id="tooluse_lunaroute_1",
    )
    bedrock.enqueue(
        Reply(answer=Answer(thinking="Run the command.", thinking_signature="sig-bedrock", tool_calls=(call,))),
        Reply(answer=Answer(text="Bedrock ran the tool round trip.")),
    )

    run = await _claude(claude_bin, gateway.url, tmp_path, "Run the echo command", "--allowedTools", "Bash(echo:*)")

    assert run.returncode == 0, _report(run)
    assert "Bedrock ran the tool round trip." in run.stdout, _report(run)
    assert bedrock.model_ids == [BEDROCK_MODEL, BEDROCK_MODEL]
    assert all(r.path.endswith("/converse-stream") for r in bedrock.requests)
    first, second = (r.json() for r in bedrock.requests)
    assert "Bash" in {tool["toolSpec"]["name"] for tool in first["toolConfig"]["tools"] if "toolSpec" in tool}
    assert first["system"]
    assert first["additionalModelRequestFields"]["thinking"] == {"type": "adaptive"}
    # The thinking goes back signed: the answers named the model Claude Code asked for, so it kept the block.
    assistant, user = second["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert {"reasoningContent": {"reasoningText": {"text": "Run the command.", "signature": "sig-bedrock"}}} in (
        assistant["content"]
    )
    tool_use = next(block["toolUse"] for block in assistant["content"] if "toolUse" in block)
    assert (tool_use["toolUseId"], tool_use["name"]) == (call.id, "Bash")
    result = next(block["toolResult"] for block in user["content"] if "toolResult" in block)
    assert result["toolUseId"] == call.id
    assert result.get("status") != "error"
    assert MARKER in json.dumps(result["content"])
