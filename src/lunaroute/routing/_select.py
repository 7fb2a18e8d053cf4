"""Choose the provider that serves a request (passthrough routing: by dialect, bypass setting or header)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lunaroute.errors import InvalidRequest, NotFound
from lunaroute.types import Dialect, Provider

__all__ = ["PROVIDER_HEADER", "ProviderTable"]

PROVIDER_HEADER = "x-lunaroute-provider"
"""A client may name a *configured* provider with this header; it never carries a URL or a key."""


@dataclass(frozen=True, slots=True)
class ProviderTable:
    """The enabled providers and the default one per client dialect."""

    providers: Mapping[str, Provider]
    defaults: Mapping[Dialect, str]
    bypass_provider: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    """Provider name -> the model name sent upstream in place of the client's (the provider's `model`)."""

    def select(self, dialect: Dialect, *, bypass: bool, requested: str | None) -> Provider:
        """The provider for a request of `dialect`.

        `requested` is the value of the `x-lunaroute-provider` header, if any: it must name an enabled
        provider that can answer this dialect. Raises `InvalidRequest` or `NotFound`.
        """
        if requested is not None:
            provider = self.providers.get(requested)
            if provider is None:
                raise InvalidRequest(f"{PROVIDER_HEADER} names no configured provider", param=PROVIDER_HEADER)
            if provider.dialect not in (dialect, "any"):
                raise InvalidRequest(
                    f"provider {requested!r} speaks the {provider.dialect} dialect, not {dialect}",
                    param=PROVIDER_HEADER,
                )
            return provider
        if bypass and self.bypass_provider is not None:
            return self.providers[self.bypass_provider]
        name = self.defaults.get(dialect)
        if name is None:
            raise NotFound(f"no enabled provider serves the {dialect} dialect")
        return self.providers[name]
