"""Model prices for cost estimates: the `genai-prices` table shipped in that package, then a fallback of ours.

Everything is local: `genai-prices` carries its data inside the package and is never asked to update (no
network at run time); Bedrock model ids, inference profiles and ARNs are looked up among its AWS prices. When it
is not installed or cannot match a model, `FALLBACK_PRICES` (list prices of the common Anthropic, OpenAI and Gemini
models, USD per million tokens) is matched by longest model-name prefix. Vertex AI ids
(`claude-sonnet-4-5@20250929`, `publishers/google/models/gemini-2.5-pro`) are priced as the model they name.
A cost is an estimate at list price: no batch or priority tiers, no negotiated discounts.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from importlib import metadata
from typing import NamedTuple

from lunaroute.model import Usage
from lunaroute.recording.events import CostEstimate

__all__ = ["FALLBACK_PRICES", "FALLBACK_VERSION", "PRICES_VERSION", "Price", "estimate_cost"]


class Price(NamedTuple):
    """USD per million tokens: input, output, cache read, cache write (None: billed as input)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


FALLBACK_VERSION = "2025-12"
FALLBACK_PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(5, 25, 0.5, 6.25),
    "claude-opus-4": Price(15, 75, 1.5, 18.75),
    "claude-sonnet-4": Price(3, 15, 0.3, 3.75),
    "claude-3-7-sonnet": Price(3, 15, 0.3, 3.75),
    "claude-3-5-sonnet": Price(3, 15, 0.3, 3.75),
    "claude-haiku-4-5": Price(1, 5, 0.1, 1.25),
    "claude-3-5-haiku": Price(0.8, 4, 0.08, 1),
    "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.3),
    "gpt-4o": Price(2.5, 10, 1.25),
    "gpt-4o-mini": Price(0.15, 0.6, 0.075),
    "gpt-4.1": Price(2, 8, 0.5),
    "gpt-4.1-mini": Price(0.4, 1.6, 0.1),
    "gpt-4.1-nano": Price(0.1, 0.4, 0.025),
    "gpt-5": Price(1.25, 10, 0.125),
    "gpt-5-mini": Price(0.25, 2, 0.025),
    "gpt-5-nano": Price(0.05, 0.4, 0.005),
    "o1": Price(15, 60, 7.5),
    "o1-mini": Price(1.1, 4.4, 0.55),
    "o3": Price(2, 8, 0.5),
    "o3-mini": Price(1.1, 4.4, 0.55),
    "o4-mini": Price(1.1, 4.4, 0.275),
    "gemini-3-pro": Price(2, 12, 0.2),
    "gemini-2.5-pro": Price(1.25, 10, 0.125),
    "gemini-2.5-flash": Price(0.3, 2.5, 0.03),
    "gemini-2.5-flash-lite": Price(0.1, 0.4, 0.01),
    "gemini-2.0-flash": Price(0.1, 0.4, 0.025),
    "gemini-2.0-flash-lite": Price(0.075, 0.3),
}
"""Fallback prices by model-name prefix (a dated or suffixed name such as `gpt-5-codex` matches `gpt-5`)."""


def _genai_prices_version() -> str | None:
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        return None


PRICES_VERSION = f"genai-prices {_genai_prices_version() or 'absent'}; lunaroute fallback {FALLBACK_VERSION}"
"""Which price data `estimate_cost` uses (recorded beside costs so they can be recomputed)."""

_PROVIDER_IDS = {"anthropic", "openai"}
_BEDROCK_ID = re.compile(
    r"(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs|stability)\.[\w.:-]+"
)
"""A Bedrock model id, optionally behind a cross-region inference-profile prefix (`us.anthropic.claude-...`)."""


def _bedrock_model(model: str) -> str | None:
    """The Bedrock model id in `model` (also the last part of an inference-profile or model ARN), else None."""
    name = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    return name if _BEDROCK_ID.fullmatch(name) else None


def _estimate(provider: str, model: str, usage: Usage, input_usd: float, output_usd: float) -> CostEstimate:
    total = input_usd + output_usd
    tokens = usage.total_input_tokens + usage.output_tokens
    reasoning_share = min(usage.reasoning_tokens / usage.output_tokens, 1.0) if usage.output_tokens else 0.0
    return CostEstimate(
        provider=provider,
        model=model,
        input_cost_usd=input_usd,
        output_cost_usd=output_usd,
        thinking_cost_usd=output_usd * reasoning_share if reasoning_share else None,
        total_cost_usd=total,
        cost_per_1k_tokens=total / tokens * 1000 if tokens else 0.0,
    )


_TIER_INPUTS = (1_000, 150_000, 250_000)
"""Representative prompt sizes of the price tiers (list prices change above 128k/200k input tokens)."""


def _tier(input_tokens: int) -> int:
    return 0 if input_tokens <= 128_000 else 1 if input_tokens <= 200_000 else 2


@functools.lru_cache(maxsize=512)
def _genai_rates(model: str, provider_id: str | None, tier: int, day: dt.date) -> tuple[float, ...] | None:
    """USD per token for (input, cache read, cache write, output) of a model at a prompt-size tier and day.

    Memoised: the price table's matching and calculation cost ~0.2 ms per call, and a gateway sees few distinct
    models. Rates are derived from the table's own calculation at the tier's representative prompt size, so a
    request is priced as the table prices a request of its tier.
    """
    try:
        import genai_prices
    except ImportError:
        return None
    base = _TIER_INPUTS[tier]
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    def price(**counts: int) -> tuple[float, float]:
        usage = genai_prices.Usage(**counts)
        result = genai_prices.calc_price(usage, model, provider_id=provider_id, genai_request_timestamp=at)
        return float(result.input_price), float(result.output_price)

    probe = 1_000  # small enough that no probe moves the prompt into another price tier
    try:
        plain_in, _ = price(input_tokens=base)
        with_read, _ = price(input_tokens=base + probe, cache_read_tokens=probe)
        with_write, _ = price(input_tokens=base + probe, cache_write_tokens=probe)
        _, out = price(input_tokens=base, output_tokens=probe)
    except (LookupError, ValueError, TypeError, ArithmeticError):
        return None
    input_rate = plain_in / base
    return input_rate, (with_read - plain_in) / probe, (with_write - plain_in) / probe, out / probe


_GOOGLE_RESOURCE = re.compile(r"(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/[^/]+/)?models/")
"""The resource path before a Google model id (`models/gemini-2.5-pro`, `publishers/google/models/...`)."""


def _from_genai_prices(model: str, provider: str, usage: Usage, at: dt.datetime | None) -> tuple[float, float] | None:
    if resource := _GOOGLE_RESOURCE.match(model):
        model = model[resource.end() :]
    day = (at or dt.datetime.now(dt.UTC)).date()
    provider_id = provider if provider in _PROVIDER_IDS else None
    bedrock = _bedrock_model(model)
    if bedrock is not None:
        # Bedrock ids are priced from the table's AWS prices, whatever the gateway's provider is named.
        model, provider_id = bedrock, "aws"
    rates = _genai_rates(model, provider_id, _tier(usage.total_input_tokens), day)
    if rates is None:
        return None
    input_rate, read_rate, write_rate, output_rate = rates
    input_usd = (
        usage.input_tokens * input_rate + usage.cache_read_tokens * read_rate + usage.cache_creation_tokens * write_rate
    )
    return input_usd, usage.output_tokens * output_rate


def _fallback_price(model: str) -> Price | None:
    name = model.rsplit("/", 1)[-1].lower()
    matches = [prefix for prefix in FALLBACK_PRICES if name.startswith(prefix)]
    return FALLBACK_PRICES[max(matches, key=len)] if matches else None


def _from_fallback(model: str, usage: Usage) -> tuple[float, float] | None:
    price = _fallback_price(model)
    if price is None:
        return None
    per_token = Decimal(1) / Decimal(1_000_000)
    cache_read = price.cache_read if price.cache_read is not None else price.input
    cache_write = price.cache_write if price.cache_write is not None else price.input
    input_usd = (
        Decimal(usage.input_tokens) * Decimal(str(price.input))
        + Decimal(usage.cache_read_tokens) * Decimal(str(cache_read))
        + Decimal(usage.cache_creation_tokens) * Decimal(str(cache_write))
    ) * per_token
    output_usd = Decimal(usage.output_tokens) * Decimal(str(price.output)) * per_token
    return float(input_usd), float(output_usd)


def estimate_cost(provider: str, model: str, usage: Usage, *, at: dt.datetime | None = None) -> CostEstimate | None:
    """The list-price cost of `usage` on `model`, or None when no table knows the model.

    `provider` is the gateway's provider name: `anthropic`/`openai` pin the price table's provider, any other
    name lets the table find the model's provider. `at` picks prices in force at that instant (default now).
    `thinking_cost_usd` is the reasoning share of the output cost (already inside `output_cost_usd`).
    """
    if not model:
        return None
    costs = _from_genai_prices(model, provider, usage, at) or _from_fallback(model, usage)
    if costs is None:
        return None
    return _estimate(provider, model, usage, *costs)
