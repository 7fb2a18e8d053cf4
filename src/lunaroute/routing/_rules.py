"""Routing rules: match a request on its model (and optionally dialect), choose the provider chain.

Pure: rules are compiled once at start-up; `RuleTable.match` is a first-match scan in priority order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lunaroute.types import Dialect

__all__ = ["Rule", "RuleTable"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled `routing.rules` entry."""

    name: str
    model_pattern: re.Pattern[str] | None
    primary: str
    fallbacks: tuple[str, ...]
    priority: int
    listener: Dialect | None = None

    def matches(self, model: str | None, dialect: Dialect) -> bool:
        if self.listener is not None and self.listener != dialect:
            return False
        if self.model_pattern is None:
            return True
        return model is not None and self.model_pattern.search(model) is not None

    @property
    def chain(self) -> tuple[str, ...]:
        return (self.primary, *self.fallbacks)


class RuleTable:
    """Rules sorted by descending `priority` (file order among equals); the first match wins."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        indexed = sorted(enumerate(rules), key=lambda item: (-item[1].priority, item[0]))
        self.rules: tuple[Rule, ...] = tuple(rule for _, rule in indexed)

    def match(self, model: str | None, dialect: Dialect) -> Rule | None:
        for rule in self.rules:
            if rule.matches(model, dialect):
                return rule
        return None
