"""The HTML of each conversation part, exactly: the classes and tags that ui.css and session.js rely on, the fold
of long texts, the preview of thinking, the tool name of a result."""

from __future__ import annotations

import pytest

from lunaroute.ui.pages._conversation import Other, Part, Text, Thinking, ToolCall, ToolResult, Turn
from lunaroute.ui.pages._parts import render_parts, render_turn, text_block

TOOLS = {"c1": "read"}


@pytest.mark.parametrize(
    ("part", "html"),
    [
        (Text("hi"), '<div class="part"><div class="text">hi</div></div>'),
        (
            Text("no", refusal=True),
            '<div class="part refusal"><span class="tag">Refusal</span><div class="text">no</div></div>',
        ),
        (Thinking("", redacted=True), '<div class="part thinking"><span class="tag">Thinking (redacted)</span></div>'),
        (
            Thinking("why\n  so"),
            '<details class="part thinking"><summary><span class="tag">Thinking</span> <span class="preview">why so</span></summary>'
            '<div class="text">why\n  so</div></details>',
        ),
        (
            ToolCall("read", "c1", "{}"),
            '<div class="part tool-call"><div class="tool-head"><span class="tag">Tool call</span> <strong>read</strong>'
            ' <code class="muted">c1</code></div><div class="code">{}</div></div>',
        ),
        (
            ToolCall("read", "", ""),
            '<div class="part tool-call"><div class="tool-head"><span class="tag">Tool call</span> <strong>read</strong>'
            ' </div><div class="code"></div></div>',
        ),
        (
            ToolResult("c1", "out"),
            '<div class="part tool-result"><div class="tool-head"><span class="tag">Tool result</span> '
            '<strong>read</strong> <code class="muted">c1</code></div><div class="code">out</div></div>',
        ),
        (
            ToolResult("c9", "bad", is_error=True),
            '<div class="part tool-result error"><div class="tool-head"><span class="tag">Tool error</span>  '
            '<code class="muted">c9</code></div><div class="code">bad</div></div>',
        ),
        (Other("image", "a.png"), '<div class="part other"><span class="tag">image</span> a.png</div>'),
    ],
)
def test_each_part_renders_as_written(part: Part, html: str) -> None:
    assert render_parts((part,), TOOLS) == html


def test_parts_follow_one_another_in_a_turn_with_its_role() -> None:
    html = render_turn(Turn("assistant", (Text("a"), Text("b"))), TOOLS, class_="answer")
    assert html == (
        '<div class="turn role-assistant answer"><div class="role">Assistant</div><div class="body">'
        '<div class="part"><div class="text">a</div></div><div class="part"><div class="text">b</div></div>'
        "</div></div>"
    )
    for role, label in (("user", "User"), ("tool", "Tool"), ("system", "System"), ("developer", "Developer")):
        assert f'<div class="role">{label}</div>' in render_turn(Turn(role, (Text("x"),)), {})
    assert render_turn(Turn("weird", ()), {}) == (
        '<div class="turn role-weird"><div class="role">weird</div><div class="body"><em>empty</em></div></div>'
    )
    assert '<div class="role">?</div>' in render_turn(Turn("", ()), {})


def test_a_text_folds_past_3000_characters_and_is_cut_past_100000() -> None:
    assert text_block("x" * 3000) == '<div class="text">' + "x" * 3000 + "</div>"
    assert text_block("x" * 3001, "code") == (
        '<div class="code">' + "x" * 3000 + '<details class="more"><summary>Show all (3,001 characters)</summary>'
        "x</details></div>"
    )
    assert text_block("y" * 100_000).endswith("y" * 97_000 + "</details></div>")
    cut = text_block("z" * 100_002)
    assert cut.endswith("z" * 97_000 + '<span class="cut">… 2 more characters: see the raw JSON</span></details></div>')
    assert "Show all (100,000 characters)" in cut


def test_the_thinking_preview_is_one_line_of_140_characters() -> None:
    words = " ".join(["word"] * 40)  # 199 characters
    html = render_parts((Thinking(words),), {})
    summary = html.split("<summary>", 1)[1].split("</summary>", 1)[0]
    # The preview is its own span, hidden by the page once the block is opened (the text is then shown once).
    assert summary == '<span class="tag">Thinking</span> <span class="preview">' + words[:140] + "…</span>"
    exact = "w" * 140
    assert f'<span class="preview">{exact}</span></summary>' in render_parts((Thinking(exact),), {})
