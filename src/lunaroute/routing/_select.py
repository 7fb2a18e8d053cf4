"""Choose the providers that serve a request: a header, a marker, the rules, or the dialect's default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lunaroute.errors import InvalidRequest, NotFound
from lunaroute.routing._rules import RuleTable
from lunaroute.types import Dialect, Headers, Provider

__all__ = ["PROVIDER_HEADER", "Decision", "Router"]

PROVIDER_HEADER = "x-lunaroute-provider"
"""A client may name a *configured* provider with this header; it never carries a URL or a key."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The providers to try in order (the first is the primary) and why they were chosen."""

    chain: tuple[Provider, ...]
    reason: str
    rule: str | None = None

    @property
    def primary(self) -> Provider:
        return self.chain[0]


@dataclass(frozen=True, slots=True)
class Router:
    """The enabled providers, each dialect's default, the rules, and per-provider model rewrites."""

    providers: Mapping[str, Provider]
    defaults: Mapping[Dialect, str]
    rules: RuleTable = field(default_factory=lambda: RuleTable(()))
    bypass_provider: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    """Provider name -> the model name sent upstream in place of the client's (the provider's `model`)."""
    max_tokens: Mapping[str, int] = field(default_factory=dict)
    """Provider name -> `max_tokens` for translated requests that carry none (`default_max_tokens`)."""

    def _named(self, name: str, source: str) -> Provider:
        provider = self.providers.get(name)
        if provider is None:
            raise InvalidRequest(f"{source} names no configured provider", param=PROVIDER_HEADER)
        return provider

    def decide(
        self,
        dialect: Dialect,
        *,
        model: str | None,
        bypass: bool,
        requested: str | None,
        marker: str | None,
        path: str = "",
        headers: Headers = (),
        session_key: Callable[[], str | None] | None = None,
    ) -> Decision:
        """Precedence: the `x-lunaroute-provider` header, a `[LUNAROUTE:name]` marker, the first matching rule
        (its strategy orders the chain; `session_key` is called only for sticky rules), `bypass.provider` for
        bypassed paths, then the dialect's default.

        Raises `InvalidRequest` for a header or marker naming no enabled provider, `NotFound` when no provider
        serves the dialect.
        """
        if requested is not None:
            return Decision((self._named(requested, PROVIDER_HEADER),), "header")
        if marker is not None:
            return Decision((self._named(marker, "the [LUNAROUTE:...] marker"),), "marker")
        if not bypass:
            rule = self.rules.match(model, dialect, path, headers)
            if rule is not None:
                session = session_key() if rule.sticky and session_key is not None else None
                order = rule.strategy.order(rule.chain, session_id=session)
                return Decision(tuple(self.providers[name] for name in order), "rule", rule.name)
        elif self.bypass_provider is not None:
            return Decision((self.providers[self.bypass_provider],), "bypass")
        name = self.defaults.get(dialect)
        if name is None:
            raise NotFound(f"no enabled provider serves the {dialect} dialect")
        return Decision((self.providers[name],), "default")
