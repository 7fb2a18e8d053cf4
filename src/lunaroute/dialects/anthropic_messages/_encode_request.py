"""`model.Request` → Anthropic Messages request body.

What happens to what Anthropic cannot express (requests translated from OpenAI chat):

- `system` and `developer` messages, wherever they are, are hoisted in order into `system`.
- `tool` messages become `tool_result` blocks of a user turn; consecutive tool messages and the
  user message right after them form one user turn (tool results first). Other consecutive
  same-role messages are left for Anthropic to combine. Messages left empty are skipped.
- Empty text blocks and unsigned thinking (OpenAI `reasoning_content`) in the history are dropped:
  Anthropic rejects both. Tool arguments that were not a JSON object are sent as `{}`.
- `reasoning_effort` → `thinking: {"type": "enabled", "budget_tokens": B}` with B from
  `BUDGET_FOR_EFFORT` (minimal 1,024, low 4,096, medium 10,240, high 24,576, xhigh 32,000), lowered
  to `max_tokens - 1`; `none`, or a budget below 1,024, leaves thinking off.
- With thinking on, `temperature` other than 1, `top_k`, and `top_p` below 0.95 are dropped
  (Anthropic rejects them together with thinking). `temperature` above 1 is clamped to 1.
- `seed`, `presence_penalty`, `frequency_penalty`, `logit_bias`, `store`, `service_tier` and other
  OpenAI-only keys are dropped; `n > 1`, `logprobs`, audio output and the legacy `functions` raise
  `UnsupportedFeature`; `response_format` `json_object` raises `UnsupportedFeature` (JSON schema
  becomes `output_config.format`).
- `parallel_tool_calls: false` → `disable_parallel_tool_use: true` (with `tool_choice` auto when
  none was given). OpenAI-hosted tools are dropped.
- `user` → `metadata.user_id`. `max_tokens` is required: `default_max_tokens` when the client sent none.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.errors import UnsupportedFeature
from lunaroute.model import (
    BuiltinTool,
    Message,
    Request,
    TextBlock,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
)

from .._json import put_extras
from ._blocks import encode_block, encode_cache_control
from ._mapping import budget_for

__all__ = ["encode_request"]

Json = dict[str, object]
_MIN_TOP_P_WITH_THINKING: Final = 0.95


def _refuse_openai_features(req: Request) -> None:
    extra = req.extra
    if extra is None or extra.dialect != "openai":
        return
    fields = {k: msgspec.json.decode(v) for k, v in extra.fields.items() if k in ("n", "logprobs", "modalities")}
    if isinstance(fields.get("n"), int) and fields["n"] > 1:
        raise UnsupportedFeature("n > 1 (several choices) is not supported by Anthropic messages", param="n")
    if fields.get("logprobs") is True:
        raise UnsupportedFeature("logprobs are not supported by Anthropic messages", param="logprobs")
    modalities = fields.get("modalities")
    if (isinstance(modalities, list) and "audio" in modalities) or "audio" in extra.fields:
        raise UnsupportedFeature("audio output is not supported by Anthropic messages", param="audio")
    if "functions" in extra.fields:
        raise UnsupportedFeature("legacy `functions` are not supported; use `tools`", param="functions")


def _system(req: Request) -> str | list[Json] | None:
    blocks = [
        b for m in req.messages if m.role in ("system", "developer") for b in m.content if isinstance(b, TextBlock)
    ]
    if not blocks:
        return None
    if len(blocks) == 1 and blocks[0].cache_control is None and blocks[0].extra is None:
        return blocks[0].text
    encoded = (encode_block(b, request=True, assistant=False) for b in blocks)
    return [b for b in encoded if b is not None]


def _messages(messages: tuple[Message, ...]) -> list[Json]:
    out: list[Json] = []
    open_tool_turn = False  # the last user turn came from tool messages and may absorb a user message
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        assistant = message.role == "assistant"
        blocks = [encode_block(b, request=True, assistant=assistant) for b in message.content]
        content = [b for b in blocks if b is not None]
        if not content:
            continue
        if message.role in ("tool", "user") and open_tool_turn:
            previous = out[-1]["content"]
            assert isinstance(previous, list)
            previous.extend(content)
            open_tool_turn = message.role == "tool"
            continue
        role = "assistant" if assistant else "user"
        out.append(put_extras({"role": role, "content": content}, message.extra, "anthropic"))
        open_tool_turn = message.role == "tool"
    return out


def _tools(req: Request) -> list[Json]:
    tools: list[Json] = []
    for tool in req.tools:
        if isinstance(tool, BuiltinTool):
            if tool.dialect == "anthropic":
                tools.append(msgspec.json.decode(tool.raw))
            continue
        out: Json = {"name": tool.name}
        if tool.description is not None:
            out["description"] = tool.description
        out["input_schema"] = tool.input_schema or {"type": "object", "properties": {}}
        if tool.strict is not None:
            out["strict"] = tool.strict
        tools.append(put_extras(encode_cache_control(out, tool.cache_control), tool.extra, "anthropic"))
    return tools


def _tool_choice(req: Request) -> Json | None:
    choice: Json
    match req.tool_choice:
        case ToolChoiceNone():
            return {"type": "none"}
        case ToolChoiceAny():
            choice = {"type": "any"}
        case ToolChoiceTool(name=name):
            choice = {"type": "tool", "name": name}
        case ToolChoiceAuto():
            choice = {"type": "auto"}
        case None:
            if req.parallel_tool_calls is not False:
                return None
            choice = {"type": "auto"}
    if req.parallel_tool_calls is not None:
        choice["disable_parallel_tool_use"] = not req.parallel_tool_calls
    return choice


def _thinking(req: Request, max_tokens: int) -> tuple[Json | None, str | None]:
    """The `thinking` object and the `output_config.effort` to send."""
    reasoning = req.reasoning
    if reasoning is None:
        return None, None
    if reasoning.mode is None:
        budget = budget_for(reasoning.effort, max_tokens) if reasoning.effort else None
        return ({"type": "enabled", "budget_tokens": budget} if budget else None), None
    thinking: Json = {"type": reasoning.mode}
    if reasoning.mode == "enabled":
        thinking["budget_tokens"] = reasoning.budget_tokens
    if reasoning.display is not None:
        thinking["display"] = reasoning.display
    return thinking, reasoning.effort


def _sampling(req: Request, out: Json, thinking_on: bool) -> None:
    temperature = min(req.temperature, 1.0) if req.temperature is not None else None
    if thinking_on and temperature != 1.0:
        temperature = None
    top_p = req.top_p
    if thinking_on and top_p is not None and top_p < _MIN_TOP_P_WITH_THINKING:
        top_p = None
    for key, value in (
        ("temperature", temperature),
        ("top_p", top_p),
        ("top_k", None if thinking_on else req.top_k),
    ):
        if value is not None:
            out[key] = value


def encode_request(req: Request, *, model_name: str, default_max_tokens: int = 4096) -> bytes:
    """Encode `req` for Anthropic (see the module docstring for conversions and refusals)."""
    _refuse_openai_features(req)
    max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens
    out: Json = {"model": model_name, "max_tokens": max_tokens}
    system = _system(req)
    if system is not None:
        out["system"] = system
    out["messages"] = _messages(req.messages)
    tools = _tools(req)
    if tools:
        out["tools"] = tools
        choice = _tool_choice(req)
        if choice is not None:
            out["tool_choice"] = choice
    thinking, effort = _thinking(req, max_tokens)
    if thinking is not None:
        out["thinking"] = thinking
    _sampling(req, out, thinking_on=thinking is not None and thinking["type"] in ("enabled", "adaptive"))
    if req.stop:
        out["stop_sequences"] = list(req.stop)
    output_config = _output_config(req, effort)
    if output_config:
        out["output_config"] = output_config
    if req.user is not None:
        out["metadata"] = _metadata(req)
    if req.stream:
        out["stream"] = True
    return msgspec.json.encode(put_extras(out, req.extra, "anthropic"))


def _passthrough_object(req: Request, key: str) -> Json:
    raw = req.extra.get("anthropic", key) if req.extra is not None else None
    value = msgspec.json.decode(raw) if raw is not None else None
    return dict(value) if isinstance(value, dict) else {}


def _output_config(req: Request, effort: str | None) -> Json:
    config = _passthrough_object(req, "output_config")
    if effort is not None:
        config["effort"] = effort
    fmt = req.response_format
    if fmt is not None and fmt.kind == "json_object":
        raise UnsupportedFeature(
            "response_format json_object is not supported by Anthropic messages; use json_schema",
            param="response_format",
        )
    if fmt is not None and fmt.kind == "json_schema":
        config["format"] = {"type": "json_schema", "schema": fmt.schema or {"type": "object"}}
    return config


def _metadata(req: Request) -> Json:
    metadata = _passthrough_object(req, "metadata")
    metadata["user_id"] = req.user
    return metadata
