"""Anthropic Messages ⇄ model tables: stop reasons, usage, reasoning effort ⇄ thinking budget."""

from __future__ import annotations

from typing import Final

from lunaroute.model import StopReason, Usage

from .._json import Obj

__all__ = [
    "BUDGET_FOR_EFFORT",
    "MIN_BUDGET",
    "budget_for",
    "decode_stop_reason",
    "decode_usage",
    "encode_stop_reason",
    "encode_usage",
]

_STOP: Final[dict[str, StopReason]] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "model_context_window_exceeded": "context_window_exceeded",
}
_WIRE_STOP: Final[dict[StopReason, str]] = {v: k for k, v in _STOP.items()}

BUDGET_FOR_EFFORT: Final[dict[str, int]] = {
    "minimal": 1024,
    "low": 4096,
    "medium": 10240,
    "high": 24576,
    "xhigh": 32000,
    "max": 32000,
}
"""OpenAI `reasoning_effort` → `thinking.budget_tokens` (an unknown effort counts as medium)."""

MIN_BUDGET: Final = 1024
"""Anthropic's smallest thinking budget; a budget must also stay below `max_tokens`."""


def budget_for(effort: str, max_tokens: int) -> int | None:
    """The thinking budget for `effort` under `max_tokens`, or None when thinking must stay off.

    `none` turns thinking off; otherwise the table value, lowered to `max_tokens - 1` (OpenAI's limit
    also counts reasoning); when that leaves less than 1,024 tokens, thinking stays off.
    """
    if effort == "none":
        return None
    budget = min(BUDGET_FOR_EFFORT.get(effort, BUDGET_FOR_EFFORT["medium"]), max_tokens - 1)
    return budget if budget >= MIN_BUDGET else None


def decode_stop_reason(value: str) -> StopReason:
    return _STOP.get(value, "end_turn")


def encode_stop_reason(reason: StopReason | None) -> str | None:
    return _WIRE_STOP[reason] if reason is not None else None


def decode_usage(usage: Obj) -> Usage:
    """Anthropic usage → model usage (the same accounting; `output_tokens_details.thinking_tokens`
    is the reasoning share)."""
    reasoning = 0
    details = usage.obj("output_tokens_details")
    if details is not None:
        reasoning = details.integer("thinking_tokens", minimum=0) or 0
    return Usage(
        input_tokens=usage.integer("input_tokens", minimum=0) or 0,
        output_tokens=usage.integer("output_tokens", minimum=0) or 0,
        cache_read_tokens=usage.integer("cache_read_input_tokens", minimum=0) or 0,
        cache_creation_tokens=usage.integer("cache_creation_input_tokens", minimum=0) or 0,
        reasoning_tokens=reasoning,
        extra=usage.extras("anthropic"),
    )


def encode_usage(usage: Usage) -> dict[str, object]:
    out: dict[str, object] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    if usage.extra is not None and usage.extra.dialect == "anthropic":
        for key, raw in usage.extra.fields.items():
            out.setdefault(key, raw)
    return out
