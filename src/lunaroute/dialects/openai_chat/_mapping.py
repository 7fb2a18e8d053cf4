"""OpenAI Chat ⇄ model tables: finish reasons, usage accounting, reasoning effort, data URIs."""

from __future__ import annotations

from typing import Final

from lunaroute.model import Base64Source, Reasoning, StopReason, UrlSource, Usage

from .._json import Obj

__all__ = [
    "data_uri",
    "decode_usage",
    "effort_for",
    "encode_usage",
    "finish_reason",
    "parse_data_uri",
    "stop_reason",
]

_STOP: Final[dict[str, StopReason]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_FINISH: Final[dict[StopReason, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def stop_reason(finish: str) -> StopReason:
    """`finish_reason` → stop reason; an unknown reason counts as a normal end."""
    return _STOP.get(finish, "end_turn")


def finish_reason(reason: StopReason | None) -> str:
    return _FINISH[reason] if reason is not None else "stop"


def decode_usage(usage: Obj) -> Usage:
    """OpenAI usage → model usage; `prompt_tokens` includes the cached tokens, the model's input does not.

    DeepSeek's `prompt_cache_hit_tokens` is read when `prompt_tokens_details` is absent.
    """
    prompt = usage.integer("prompt_tokens", minimum=0) or 0
    completion = usage.integer("completion_tokens", minimum=0) or 0
    usage.get("total_tokens")
    cached = 0
    details = usage.obj("prompt_tokens_details")
    if details is not None:
        cached = details.integer("cached_tokens", minimum=0) or 0
    elif usage.has("prompt_cache_hit_tokens"):
        cached = usage.integer("prompt_cache_hit_tokens", minimum=0) or 0
        usage.get("prompt_cache_miss_tokens")
    reasoning = 0
    completion_details = usage.obj("completion_tokens_details")
    if completion_details is not None:
        reasoning = completion_details.integer("reasoning_tokens", minimum=0) or 0
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=completion,
        cache_read_tokens=min(cached, prompt),
        reasoning_tokens=reasoning,
        extra=usage.extras("openai"),
    )


def encode_usage(usage: Usage) -> dict[str, object]:
    prompt = usage.total_input_tokens
    out: dict[str, object] = {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.extra is not None and usage.extra.dialect == "openai":
        for key, raw in usage.extra.fields.items():
            out.setdefault(key, raw)
    return out


# Anthropic thinking budget → OpenAI effort: the budget's band in the table the Anthropic encoder uses
# the other way (low 4,096, medium 10,240, high 24,576 tokens).
_BUDGET_BANDS: Final = ((4096, "low"), (10240, "medium"))
_EFFORT_ALIASES: Final = {"max": "high"}


def effort_for(reasoning: Reasoning) -> str | None:
    """The `reasoning_effort` to send, or None to leave the model's default.

    An explicit effort is kept (Anthropic `max` becomes `high`); an Anthropic budget maps to
    `low` (≤ 4,096), `medium` (≤ 10,240) or `high`; adaptive or disabled thinking sends nothing.
    """
    if reasoning.effort is not None:
        return _EFFORT_ALIASES.get(reasoning.effort, reasoning.effort)
    if reasoning.mode == "enabled" and reasoning.budget_tokens is not None:
        for limit, effort in _BUDGET_BANDS:
            if reasoning.budget_tokens <= limit:
                return effort
        return "high"
    return None


def parse_data_uri(url: str) -> Base64Source | UrlSource:
    """`data:<type>;base64,<data>` → inline bytes; anything else stays a URL."""
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        if sep and header.endswith(";base64"):
            return Base64Source(media_type=header[: -len(";base64")] or "application/octet-stream", data=data)
    return UrlSource(url=url)


def data_uri(source: Base64Source) -> str:
    return f"data:{source.media_type};base64,{source.data}"
