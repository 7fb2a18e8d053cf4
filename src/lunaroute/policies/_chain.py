"""The policy chain the server runs around each request: who calls (auth), what they may call (scopes), how much
(limits, budgets) — and what that changes in the answer (rate-limit headers, a scoped model listing, settlement).

Two hooks before routing — `identify` as soon as the headers are read (so a missing key is refused before the
body is read), `admit` once the body is inspected — and the `Admission` they return carries what the answer
needs. Either hook may raise a gateway error (401, 403, 429, 503), which the server renders in the caller's
dialect.
"""

from __future__ import annotations

from dataclasses import dataclass

from lunaroute.dialects.passthrough import rewrite_model
from lunaroute.policies._auth import Authenticator, Principal
from lunaroute.policies._limits import Grant, Limiter
from lunaroute.policies._meter import UsageMeter
from lunaroute.policies._model_list import restrict_model_list, without_compression
from lunaroute.types import Dialect, Endpoint, UpstreamResponse

__all__ = ["Admission", "Policies"]

Headers = list[tuple[str, str]]


@dataclass(slots=True)
class Admission:
    """One request's standing with the policies: its caller, its share of the limits, what its answer needs."""

    principal: Principal | None = None
    grant: Grant | None = None
    scoped_listing: bool = False

    @property
    def meter(self) -> UsageMeter | None:
        """Fed the answer's bytes when tokens or spend must be settled from its usage."""
        return self.grant.meter if self.grant is not None else None

    def answer_headers(self, dialect: Dialect) -> dict[str, str]:
        return self.grant.headers(dialect) if self.grant is not None else {}

    async def on_response(self, response: UpstreamResponse) -> UpstreamResponse:
        """The answer as the caller may see it (a model listing cut to the key's models)."""
        if self.scoped_listing and self.principal is not None:
            return await restrict_model_list(response, self.principal.record)
        return response

    def settle(self, provider: str | None = None, model: str | None = None, upstream_status: int | None = None) -> None:
        """The request is over: give back what it held and count what it cost (once; without `provider`, as
        not answered)."""
        if self.grant is not None:
            self.grant.settle(provider, model, upstream_status)


class Policies:
    """The chain; `auth` and `limiter` are set at start-up when the config asks for them (else inert)."""

    def __init__(self) -> None:
        self.auth: Authenticator | None = None
        self.limiter: Limiter | None = None

    def identify(self, headers: Headers, client: str | None, path: str) -> tuple[Admission, Headers]:
        """Check the gateway key (with `auth.mode: keys`) and take it out of the headers."""
        if self.auth is None:
            return Admission(), headers
        principal, headers = self.auth.authenticate(headers, client, path)
        return Admission(principal=principal), headers

    async def admit(
        self,
        admission: Admission,
        endpoint: Endpoint,
        model: str | None,
        body: bytes,
        headers: Headers,
        request_id: str,
    ) -> tuple[str | None, bytes, Headers]:
        """Check the model against the key's scopes and take the request's share of limits and budgets.

        Returns the model, body and headers to route: a budget may send the request to a cheaper model, and a
        scoped model listing is asked for uncompressed so that it can be cut.
        """
        principal = admission.principal
        if principal is not None and self.auth is not None:
            self.auth.authorize_model(principal, model)
            if endpoint is Endpoint.OPENAI_MODELS and principal.record.models:
                admission.scoped_listing = True
                headers = without_compression(headers)
        if self.limiter is not None:
            admission.grant = await self.limiter.admit(principal, model, body, request_id)
            reroute = admission.grant.reroute_model if admission.grant is not None else None
            if reroute is not None:
                # Over budget with a cheaper model named: served (and recorded) as that model.
                model, body = reroute, rewrite_model(body, reroute)
        return model, body, headers
