"""Cost estimates: the genai-prices table, our fallback, and unknown models."""

from __future__ import annotations

import pytest

from lunaroute.model import Usage
from lunaroute.recording import pricing
from lunaroute.recording.pricing import PRICES_VERSION, estimate_cost


def test_anthropic_with_cache_tokens() -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=2000, cache_creation_tokens=400, output_tokens=500)
    cost = estimate_cost("anthropic", "claude-sonnet-4-5-20250929", usage)
    assert cost is not None
    assert cost.provider == "anthropic"
    assert cost.model == "claude-sonnet-4-5-20250929"
    # $3 input, $0.30 cache read, $3.75 cache write, $15 output per million tokens.
    assert cost.input_cost_usd == pytest.approx((1000 * 3 + 2000 * 0.3 + 400 * 3.75) / 1e6)
    assert cost.output_cost_usd == pytest.approx(500 * 15 / 1e6)
    assert cost.total_cost_usd == pytest.approx(cost.input_cost_usd + cost.output_cost_usd)
    assert cost.cost_per_1k_tokens == pytest.approx(cost.total_cost_usd / 3900 * 1000)
    assert cost.thinking_cost_usd is None


def test_reasoning_share_of_output() -> None:
    cost = estimate_cost("openai", "gpt-5", Usage(input_tokens=100, output_tokens=1000, reasoning_tokens=250))
    assert cost is not None
    assert cost.thinking_cost_usd == pytest.approx(cost.output_cost_usd / 4)


def test_unknown_model_and_custom_provider_name() -> None:
    assert estimate_cost("ollama", "llama3:8b-instruct-q4", Usage(input_tokens=10, output_tokens=10)) is None
    assert estimate_cost("openai", "", Usage(input_tokens=10)) is None
    assert estimate_cost("my-openai-pool", "gpt-4o-mini", Usage(input_tokens=1_000_000)) is not None


def test_fallback_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "_from_genai_prices", lambda *args: None)
    cost = estimate_cost(
        "openai",
        "openai/gpt-4o-mini-2024-07-18",
        Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000, output_tokens=1_000_000),
    )
    assert cost is not None
    assert (cost.input_cost_usd, cost.output_cost_usd) == pytest.approx((0.15 + 0.075, 0.6))
    opus = estimate_cost("anthropic", "claude-opus-4-1-20250805", Usage(output_tokens=1_000_000))
    assert opus is not None
    assert opus.output_cost_usd == pytest.approx(75)
    assert estimate_cost("openai", "gpt-3.5-turbo", Usage(input_tokens=1)) is None


def test_version_names_both_tables() -> None:
    assert "genai-prices" in PRICES_VERSION
    assert pricing.FALLBACK_VERSION in PRICES_VERSION


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ],
)
def test_bedrock_ids_are_priced_at_aws_prices(model: str) -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=2000, output_tokens=500)
    cost = estimate_cost("claude-on-bedrock", model, usage)
    assert cost is not None
    assert cost.model == model
    # Bedrock's regional Sonnet 4.5: $3.30 input, $0.33 cache read, $16.50 output per million tokens.
    assert cost.input_cost_usd == pytest.approx((1000 * 3.3 + 2000 * 0.33) / 1e6)
    assert cost.output_cost_usd == pytest.approx(500 * 16.5 / 1e6)


def test_bedrock_models_of_other_vendors_are_priced() -> None:
    for model in (
        "amazon.nova-pro-v1:0",
        "meta.llama3-1-70b-instruct-v1:0",
        "eu.anthropic.claude-3-5-haiku-20241022-v1:0",
    ):
        assert estimate_cost("bedrock", model, Usage(input_tokens=1000, output_tokens=100)) is not None


@pytest.mark.parametrize(
    ("provider", "model", "per_million"),
    [
        ("gem", "gemini-2.5-flash", (0.3, 0.03, 2.5)),
        ("vx", "gemini-2.5-pro", (1.25, 0.125, 10)),
        ("vx", "publishers/google/models/gemini-2.5-pro", (1.25, 0.125, 10)),
        ("gem", "models/gemini-2.5-flash", (0.3, 0.03, 2.5)),
        ("vclaude", "claude-sonnet-4-5@20250929", (3, 0.3, 15)),
        ("vclaude", "claude-haiku-4-5@20251001", (1, 0.1, 5)),
    ],
)
def test_gemini_and_vertex_model_ids(provider: str, model: str, per_million: tuple[float, float, float]) -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=2000, output_tokens=500, reasoning_tokens=100)
    cost = estimate_cost(provider, model, usage)
    assert cost is not None
    price_in, price_read, price_out = per_million
    assert cost.input_cost_usd == pytest.approx((1000 * price_in + 2000 * price_read) / 1e6)
    assert cost.output_cost_usd == pytest.approx(500 * price_out / 1e6)
    assert cost.thinking_cost_usd == pytest.approx(cost.output_cost_usd / 5)


def test_fallback_table_knows_gemini(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "_from_genai_prices", lambda *args: None)
    cost = estimate_cost("vx", "publishers/google/models/gemini-2.5-flash-lite", Usage(input_tokens=1_000_000))
    assert cost is not None
    assert cost.input_cost_usd == pytest.approx(0.1)
