"""Routing rules: match a request on its model, dialect, path and a header; choose and order the provider chain.

Pure: rules are compiled once at start-up; `RuleTable.match` is a first-match scan in priority order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lunaroute.routing._strategies import PriorityStrategy, Strategy
from lunaroute.types import Dialect, Headers

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
    path_pattern: re.Pattern[str] | None = None
    header: tuple[str, re.Pattern[str]] | None = None
    strategy: Strategy = field(default_factory=PriorityStrategy)
    sticky: bool = False

    def matches(self, model: str | None, dialect: Dialect, path: str, headers: Headers) -> bool:
        if self.listener is not None and self.listener != dialect:
            return False
        if self.path_pattern is not None and self.path_pattern.search(path) is None:
            return False
        if self.header is not None:
            name, pattern = self.header
            value = next((v for k, v in headers if k == name), None)
            if value is None or pattern.search(value) is None:
                return False
        if self.model_pattern is None:
            return True
        return model is not None and self.model_pattern.search(model) is not None

    @property
    def chain(self) -> tuple[str, ...]:
        return (self.primary, *self.fallbacks)


_CACHE_SIZE = 4096


class RuleTable:
    """Rules sorted by descending `priority` (file order among equals); the first match wins.

    Decisions are cached by (model, dialect, path, the values of the headers rules look at), so a long rule
    table costs one dictionary lookup per request once a model has been seen; the cache holds at most
    4,096 keys and is cleared when full.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        indexed = sorted(enumerate(rules), key=lambda item: (-item[1].priority, item[0]))
        self.rules: tuple[Rule, ...] = tuple(rule for _, rule in indexed)
        self._header_names = tuple(sorted({rule.header[0] for rule in self.rules if rule.header is not None}))
        self._cache: dict[tuple[object, ...], Rule | None] = {}

    def _key(self, model: str | None, dialect: Dialect, path: str, headers: Headers) -> tuple[object, ...]:
        if not self._header_names:
            return (model, dialect, path)
        values = tuple(next((v for k, v in headers if k == name), None) for name in self._header_names)
        return (model, dialect, path, values)

    def match(self, model: str | None, dialect: Dialect, path: str = "", headers: Headers = ()) -> Rule | None:
        if not self.rules:
            return None
        key = self._key(model, dialect, path, headers)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = next((rule for rule in self.rules if rule.matches(model, dialect, path, headers)), None)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = found
        return found
