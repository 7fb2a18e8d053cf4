"""Answers rendered as Markdown by markdown-it-py, with nothing of the text able to become active HTML.

The renderer is CommonMark plus tables and strikethrough (`js-default`) with raw HTML off: an HTML tag in the text
is shown as text, escaped. Images are off (the page loads nothing from elsewhere, and a recorded image URL must
not be fetched by viewing a session); link targets pass markdown-it's own check (no `javascript:`, `vbscript:`,
`file:` or non-image `data:` URLs) and open as `rel="noopener noreferrer nofollow"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from lunaroute.ui.pages._html import Markup

__all__ = ["MAX_MARKDOWN", "Renderer"]

MAX_MARKDOWN = 30_000
"""Longer texts are shown as plain text (folded), not rendered."""


class Renderer:
    """One configured markdown-it instance (build once; `render` is safe to call from any request)."""

    def __init__(self) -> None:
        md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
        md.disable(["image", "html_inline", "html_block"], ignoreInvalid=True)
        md.add_render_rule("link_open", _link_open)
        self._md = md

    def render(self, text: str) -> Markup:
        """The HTML of `text` (raw HTML in it escaped)."""
        return Markup(self._md.render(text))


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return str(self.renderToken(tokens, idx, options, env))
