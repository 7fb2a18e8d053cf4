"""The rule table's decision cache gives the same answers as a scan, header conditions included."""

from __future__ import annotations

import re

from lunaroute.routing import Rule, RuleTable


def rule(name: str, pattern: str | None, header: tuple[str, str] | None = None, priority: int = 10) -> Rule:
    return Rule(
        name=name,
        model_pattern=re.compile(pattern) if pattern else None,
        primary=name,
        fallbacks=(),
        priority=priority,
        header=(header[0], re.compile(header[1])) if header else None,
    )


def test_cached_decisions_match_a_scan() -> None:
    table = RuleTable([rule(f"r{i}", f"^nomatch-{i}-") for i in range(100)] + [rule("all", None, priority=0)])
    for _ in range(3):
        assert table.match("gpt-4o", "openai").name == "all"  # type: ignore[union-attr]
    assert table.match("nomatch-7-x", "openai").name == "r7"  # type: ignore[union-attr]


def test_header_conditions_are_part_of_the_key() -> None:
    table = RuleTable([rule("team", None, header=("x-team", "^core$"), priority=20), rule("rest", None)])
    assert table.match("m", "openai", "", [("x-team", "core")]).name == "team"  # type: ignore[union-attr]
    assert table.match("m", "openai", "", [("x-team", "other")]).name == "rest"  # type: ignore[union-attr]
    assert table.match("m", "openai", "", []).name == "rest"  # type: ignore[union-attr]
    assert table.match("m", "openai", "", [("x-team", "core")]).name == "team"  # type: ignore[union-attr]


def test_no_rules() -> None:
    assert RuleTable([]).match("m", "openai") is None
