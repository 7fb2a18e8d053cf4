"""Gemini finish reasons, usage accounting and the thinking tables (pure)."""

from __future__ import annotations

from typing import Final

from lunaroute.model import Reasoning, StopReason, Usage

from ._wire import UsageMetadata

__all__ = ["decode_usage", "stop_reason", "thinking_config"]

_REFUSED: Final = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)

EFFORT_BUDGETS: Final[dict[str, int]] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
"""`reasoning_effort` → `thinkingBudget` for models that take a budget (Gemini 2.x); the same table Google's
OpenAI-compatible endpoint uses for low/medium/high."""

MAX_BUDGET: Final = 24576
"""The largest `thinkingBudget` every thinking Gemini model takes; larger Anthropic budgets are lowered to it."""

_LEVELS: Final[dict[str, str]] = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}
"""`reasoning_effort` → `thinkingLevel` for models that take a level (Gemini 3 and later)."""


def stop_reason(finish: str, *, called_tools: bool) -> StopReason:
    """A Gemini `finishReason` as a normalized stop reason.

    `STOP` after function calls is `tool_use` (Gemini has no separate reason for it); safety, recitation and
    blocklist stops are `refusal`; `MAX_TOKENS` is `max_tokens`; everything else ends the turn.
    """
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if finish in _REFUSED:
        return "refusal"
    return "tool_use" if called_tools else "end_turn"


def decode_usage(usage: UsageMetadata) -> Usage:
    """`usageMetadata` in Anthropic's accounting: `promptTokenCount` includes the cached tokens and the tool-use
    prompt is extra input; output is the candidates plus the thoughts."""
    prompt = (usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0)
    cached = usage.cached_content_token_count or 0
    thoughts = usage.thoughts_token_count or 0
    return Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=(usage.candidates_token_count or 0) + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def thinking_config(reasoning: Reasoning, model: str) -> dict[str, object] | None:
    """The `generationConfig.thinkingConfig` for `reasoning`, or None to leave the model's default.

    An Anthropic budget is sent as `thinkingBudget` (at most `MAX_BUDGET`); an explicit effort becomes `thinkingLevel` on Gemini 3
    models and a `thinkingBudget` (`EFFORT_BUDGETS`) on earlier ones; adaptive thinking asks for the dynamic
    budget (-1). Disabled thinking leaves the model's default (some models cannot turn thinking off).
    Thought summaries are asked for whenever the client asked to think.
    """
    if reasoning.mode == "disabled":
        return None
    effort = reasoning.effort
    if effort is not None and effort in EFFORT_BUDGETS:
        if effort == "none":
            return {"thinkingBudget": 0}
        if "gemini-3" in model and effort in _LEVELS:
            return {"includeThoughts": True, "thinkingLevel": _LEVELS[effort]}
        return {"includeThoughts": True, "thinkingBudget": EFFORT_BUDGETS[effort]}
    if reasoning.mode == "enabled" and reasoning.budget_tokens is not None:
        return {"includeThoughts": True, "thinkingBudget": min(reasoning.budget_tokens, MAX_BUDGET)}
    if reasoning.mode in ("enabled", "adaptive"):
        return {"includeThoughts": True, "thinkingBudget": -1}
    return None
