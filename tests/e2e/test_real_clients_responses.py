"""The real Codex CLI on an Anthropic-dialect provider, and the real Claude Code on a Responses-only provider,
through the gateway's Responses translation (see `test_real_clients` for how the clients run offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.e2e.test_real_clients import (
    CLIENT_KEY,
    CODEX_CONFIG,
    CODEX_KEY,
    CODEX_MODEL,
    MARKER,
    ClientRun,
    _claude,
    _offline_env,
    _report,
    _run_client,
    claude_bin,
    codex_bin,
)

from lunaroute.testing import Answer, FakeUpstream, Reply, ToolCall
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

pytestmark = pytest.mark.e2e

__all__ = ["claude_bin", "codex_bin"]  # the fixtures, used here by name


# Codex offers hosted web search and deferred tool search by default; neither exists on an Anthropic provider (the
# gateway would refuse them with a 400), so, as a user of a non-OpenAI model would, the test turns them off.
CODEX_ON_OTHER_MODELS = CODEX_CONFIG.replace(
    'sandbox_mode = "danger-full-access"\n', 'sandbox_mode = "danger-full-access"\nweb_search = "disabled"\n'
).replace(
    "apps = false\n",
    "apps = false\ntool_search = false\ntool_suggest = false\nmulti_agent = false\ncollab = false\ngoals = false\n",
)


async def _codex(codex_bin: Path, base_url: str, tmp_path: Path, prompt: str, *, websocket: bool = False) -> ClientRun:
    env = _offline_env(tmp_path / "home")
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    config = CODEX_ON_OTHER_MODELS.format(model=CODEX_MODEL, base_url=base_url)
    if websocket:
        config += "supports_websockets = true\n"  # the last table is the provider's
    (codex_home / "config.toml").write_text(config)
    env.update({"CODEX_HOME": str(codex_home), "LUNAROUTE_TEST_CODEX_KEY": CODEX_KEY})
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return await _run_client([str(codex_bin), "exec", "--skip-git-repo-check", "--ephemeral", prompt], env, workdir)


@pytest.fixture
async def gateway(upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path) -> GatewayServer:
    """gpt-* (Codex) → an Anthropic provider; claude-* (Claude Code) → a Responses-only provider."""
    return await make_gateway(
        providers={
            "ant": {"provider_type": "anthropic", "base_url": upstream.url, "model": "claude-sonnet-4-6"},
            "codex": {"provider_type": "openai_responses", "base_url": f"{upstream.url}/v1", "model": "gpt-5-codex"},
        },
        routing={
            "rules": [
                {"name": "codex-on-claude", "model_pattern": "^gpt-", "primary": "ant"},
                {"name": "claude-on-codex", "model_pattern": "^claude-", "primary": "codex"},
            ]
        },
        responses={"database": str(tmp_path / "responses.db")},
    )


@pytest.mark.parametrize("websocket", [False, True], ids=["http", "websocket"])
async def test_codex_on_anthropic_provider_with_a_tool_round_trip(
    codex_bin: Path, upstream: FakeUpstream, gateway: GatewayServer, tmp_path: Path, websocket: bool
) -> None:
    call = ToolCall(name="exec_command", arguments=json.dumps({"cmd": f"echo {MARKER}"}), id="toolu_lunaroute_1")
    upstream.enqueue(
        Reply(answer=Answer(thinking="Run it.", thinking_signature="sig-codex", tool_calls=(call,))),
        Reply(answer=Answer(text="The command printed the marker.")),
    )

    run = await _codex(codex_bin, gateway.url, tmp_path, "Run the echo command", websocket=websocket)

    assert run.returncode == 0, _report(run)
    assert "The command printed the marker." in run.stdout, _report(run)
    assert [r.path for r in upstream.requests] == ["/v1/messages", "/v1/messages"]
    first, second = (r.json() for r in upstream.requests)
    assert first["model"] == "claude-sonnet-4-6"
    assert first["stream"] is True
    assert "exec_command" in {tool["name"] for tool in first["tools"]}
    assert upstream.requests[0].header("x-api-key") == CODEX_KEY
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")["content"]
    assert {"type": "thinking", "thinking": "Run it.", "signature": "sig-codex"} in assistant
    assert any(b.get("type") == "tool_use" and b["id"] == call.id for b in assistant)
    results = [
        b for m in second["messages"] for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"
    ]
    assert results[0]["tool_use_id"] == call.id
    assert MARKER in json.dumps(results[0]["content"])


async def test_codex_freeform_apply_patch_on_anthropic_provider(
    codex_bin: Path, upstream: FakeUpstream, gateway: GatewayServer, tmp_path: Path
) -> None:
    patch = f"*** Begin Patch\n*** Add File: hello.txt\n+{MARKER}\n*** End Patch\n"
    call = ToolCall(name="apply_patch", arguments=json.dumps({"input": patch}), id="toolu_patch_1")
    upstream.enqueue(Reply(answer=Answer(tool_calls=(call,))), Reply(answer=Answer(text="Patched.")))

    run = await _codex(codex_bin, gateway.url, tmp_path, "Create hello.txt")

    assert run.returncode == 0, _report(run)
    assert "Patched." in run.stdout, _report(run)
    assert (tmp_path / "work" / "hello.txt").read_text().strip() == MARKER
    first, second = (r.json() for r in upstream.requests)
    [tool] = [t for t in first["tools"] if t["name"] == "apply_patch"]
    assert tool["input_schema"]["required"] == ["input"]
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")["content"]
    assert {"type": "tool_use", "id": call.id, "name": "apply_patch", "input": {"input": patch}} in assistant
    results = [
        b for m in second["messages"] for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"
    ]
    assert results[0]["tool_use_id"] == call.id


async def test_claude_code_on_responses_provider_with_a_tool_round_trip(
    claude_bin: Path, upstream: FakeUpstream, gateway: GatewayServer, tmp_path: Path
) -> None:
    call = ToolCall(
        name="Bash",
        arguments=json.dumps({"command": f"echo {MARKER}", "description": "Print a marker"}),
        id="call_lunaroute_1",
    )
    upstream.enqueue(
        Reply(answer=Answer(tool_calls=(call,))),
        Reply(answer=Answer(text="Served by a Responses model.")),
    )

    run = await _claude(claude_bin, gateway.url, tmp_path, "Run the echo command", "--allowedTools", "Bash(echo:*)")

    assert run.returncode == 0, _report(run)
    assert "Served by a Responses model." in run.stdout, _report(run)
    assert [r.path for r in upstream.requests] == ["/v1/responses", "/v1/responses"]
    first, second = (r.json() for r in upstream.requests)
    assert first["model"] == "gpt-5-codex"
    assert first["stream"] is True
    assert first["store"] is False
    assert "Bash" in {tool["name"] for tool in first["tools"]}
    assert upstream.requests[0].header("authorization") == f"Bearer {CLIENT_KEY}"
    output = next(i for i in second["input"] if i["type"] == "function_call_output")
    assert output["call_id"] == call.id
    assert MARKER in json.dumps(output["output"])
