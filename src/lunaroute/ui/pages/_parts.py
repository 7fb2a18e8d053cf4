"""HTML of the pieces of a conversation: texts, thinking, tool calls and results, whole turns. Escaped."""

from __future__ import annotations

from collections.abc import Mapping

from lunaroute.ui.pages._conversation import Other, Part, Text, Thinking, ToolCall, ToolResult, Turn
from lunaroute.ui.pages._html import Markup, el
from lunaroute.ui.pages._markdown import MAX_MARKDOWN, Renderer

__all__ = ["render_parts", "render_turn", "text_block"]

_SHOWN = 3000
"""Characters of a long text shown before a "show all" fold."""
_MAX = 100_000
"""Characters of one text put in the page at all; the rest is in the raw JSON."""

_ROLES = {"user": "User", "assistant": "Assistant", "tool": "Tool", "system": "System", "developer": "Developer"}


def text_block(text: str, class_: str = "text") -> Markup:
    """`text` in a pre-wrapped block; past 3,000 characters the rest folds, past 100,000 it is cut."""
    cut = ""
    if len(text) > _MAX:
        cut, text = f"… {len(text) - _MAX:,} more characters: see the raw JSON", text[:_MAX]
    if len(text) <= _SHOWN:
        return el("div", {"class_": class_}, text, el("span", {"class_": "cut"}, cut) if cut else None)
    return el(
        "div",
        {"class_": class_},
        text[:_SHOWN],
        el(
            "details",
            {"class_": "more"},
            el("summary", None, f"Show all ({len(text):,} characters)"),
            text[_SHOWN:],
            el("span", {"class_": "cut"}, cut) if cut else None,
        ),
    )


def _preview(text: str, limit: int = 140) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "…"


_MARKDOWN = Renderer()


def _part(part: Part, tool_names: Mapping[str, str], markdown: bool = False) -> Markup:
    match part:
        case Text(text=text, refusal=True):
            return el("div", {"class_": "part refusal"}, el("span", {"class_": "tag"}, "Refusal"), text_block(text))
        case Text(text=text) if markdown and len(text) <= MAX_MARKDOWN:
            # The source goes beside the rendering, hidden: the copy button copies what the model wrote.
            return el(
                "div",
                {"class_": "part"},
                el("div", {"class_": "markdown"}, _MARKDOWN.render(text)),
                el("div", {"class_": "text", "hidden": True}, text),
            )
        case Text(text=text):
            return el("div", {"class_": "part"}, text_block(text))
        case Thinking(redacted=True, text=""):
            return el("div", {"class_": "part thinking"}, el("span", {"class_": "tag"}, "Thinking (redacted)"))
        case Thinking(text=text):
            return el(
                "details",
                {"class_": "part thinking"},
                el(
                    "summary",
                    None,
                    el("span", {"class_": "tag"}, "Thinking"),
                    " ",
                    el("span", {"class_": "preview"}, _preview(text)),
                ),
                text_block(text),
            )
        case ToolCall(name=name, call_id=call_id, arguments=arguments):
            return el(
                "div",
                {"class_": "part tool-call"},
                el(
                    "div",
                    {"class_": "tool-head"},
                    el("span", {"class_": "tag"}, "Tool call"),
                    " ",
                    el("strong", None, name),
                    " ",
                    el("code", {"class_": "muted"}, call_id) if call_id else None,
                ),
                text_block(arguments, "code"),
            )
        case ToolResult(call_id=call_id, content=content, is_error=is_error):
            name = tool_names.get(call_id, "")
            return el(
                "div",
                {"class_": "part tool-result error" if is_error else "part tool-result"},
                el(
                    "div",
                    {"class_": "tool-head"},
                    el("span", {"class_": "tag"}, "Tool error" if is_error else "Tool result"),
                    " ",
                    el("strong", None, name) if name else None,
                    " ",
                    el("code", {"class_": "muted"}, call_id) if call_id else None,
                ),
                text_block(content, "code"),
            )
        case Other(kind=kind, detail=detail):
            return el("div", {"class_": "part other"}, el("span", {"class_": "tag"}, kind), " ", detail)
    return Markup("")


def render_parts(parts: tuple[Part, ...], tool_names: Mapping[str, str], *, markdown: bool = False) -> Markup:
    """The parts one after another; `tool_names` names the tool of each call id (for results). With `markdown`,
    texts are rendered as Markdown (see `_markdown`)."""
    return Markup("".join(_part(p, tool_names, markdown) for p in parts))


def render_turn(turn: Turn, tool_names: Mapping[str, str], class_: str = "") -> Markup:
    """One message with its role label."""
    role = _ROLES.get(turn.role, turn.role or "?")
    return el(
        "div",
        {"class_": f"turn role-{turn.role} {class_}".strip()},
        el("div", {"class_": "role"}, role),
        el("div", {"class_": "body"}, render_parts(turn.parts, tool_names) if turn.parts else el("em", None, "empty")),
    )
