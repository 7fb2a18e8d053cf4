"""Small pieces several pages use: status badges, the token breakdown bar, page links."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from lunaroute.recording.query import TokenCounts
from lunaroute.ui.pages._html import Markup, el

__all__ = ["TOKEN_KINDS", "pager", "status_badge", "token_bar"]

TOKEN_KINDS = (
    ("input", "Input"),
    ("output", "Output"),
    ("thinking", "Thinking"),
    ("reasoning", "Reasoning"),
    ("cache_read", "Cache read"),
    ("cache_creation", "Cache write"),
    ("audio_input", "Audio in"),
    ("audio_output", "Audio out"),
)
"""The token kinds in display order: (`TokenCounts` field, label); the field is also the CSS class suffix."""


def status_badge(success: bool | None, failed: int = 0) -> Markup:
    """`ok`, `failed`, or `open` (no completed request yet); `N failed` when the last request succeeded but
    `failed` earlier ones did not (a session with an error is never shown as plainly ok)."""
    if success is None:
        return el("span", {"class_": "badge open"}, "open")
    if success and failed:
        return el("span", {"class_": "badge partial", "title": "The last request succeeded"}, f"{failed:,} failed")
    return el("span", {"class_": "badge ok" if success else "badge failed"}, "ok" if success else "failed")


def token_bar(tokens: TokenCounts) -> Markup:
    """A stacked bar of the token kinds (inline SVG, coloured by class) and its legend; nothing when zero."""
    total = tokens.total
    if not total:
        return Markup("")
    rects, legend, x = [], [], 0.0
    for field, label in TOKEN_KINDS:
        value = int(getattr(tokens, field))
        if not value:
            continue
        width = 1000.0 * value / total
        rects.append(
            el(
                "rect",
                {"x": f"{x:.1f}", "y": "0", "width": f"{width:.1f}", "height": "10", "class_": f"k-{field}"},
                el("title", None, f"{label}: {value:,}"),
            )
        )
        legend.append(
            el("li", None, el("span", {"class_": f"swatch k-{field}"}), f"{label} ", el("strong", None, f"{value:,}"))
        )
        x += width
    svg = el(
        "svg",
        {
            "class_": "tokbar",
            "viewBox": "0 0 1000 10",
            "preserveAspectRatio": "none",
            "role": "img",
            "aria-label": "Tokens by kind",
        },
        rects,
    )
    return el("div", {"class_": "tokens"}, svg, el("ul", {"class_": "legend"}, legend))


def pager(path: str, params: Mapping[str, str], page: int, pages: int) -> Markup:
    """Previous / next links between `pages` pages of `path` (`params` kept, `page` 1-based)."""

    def link(n: int, label: str, rel: str) -> Markup:
        if n < 1 or n > pages or n == page:
            return el("span", {"class_": "disabled"}, label)
        return el("a", {"href": f"{path}?{urlencode({**params, 'page': str(n)})}", "rel": rel}, label)

    return el(
        "nav",
        {"class_": "pager", "aria-label": "Pages"},
        link(page - 1, "← Previous", "prev"),
        el("span", None, f"Page {page} of {pages}"),
        link(page + 1, "Next →", "next"),
    )
