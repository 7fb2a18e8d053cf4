"""List prices of stored token counts: the `PriceFn` the UI and the CLI both give their session store."""

from __future__ import annotations

from lunaroute.model import Usage
from lunaroute.recording.pricing import estimate_cost
from lunaroute.recording.query._models import TokenCounts

__all__ = ["format_usd", "list_price"]


def list_price(provider: str, model: str, tokens: TokenCounts) -> float | None:
    """The estimated cost in USD of `tokens` on `model`, from the price table shipped in the package."""
    usage = Usage(
        input_tokens=tokens.input,
        output_tokens=tokens.output + tokens.thinking,
        cache_read_tokens=tokens.cache_read,
        cache_creation_tokens=tokens.cache_creation,
        reasoning_tokens=tokens.reasoning,
    )
    estimate = estimate_cost(provider, model, usage)
    return estimate.total_cost_usd if estimate is not None else None


def format_usd(value: float | None, none: str = "n/a") -> str:
    """USD with precision that suits small amounts: `<$0.0001`, `$0.0042`, `$1.23`, `$1,234`; None → `none`.

    The UI's pages and the CLI print costs with this; `static/charts.js` (`fmt.cost`) follows the same rules.
    """
    if value is None:
        return none
    if value == 0:
        return "$0.00"
    if abs(value) < 0.0001:
        return "<$0.0001" if value > 0 else "-<$0.0001"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    if abs(value) < 1000:
        return f"${value:,.2f}"
    return f"${value:,.0f}"
