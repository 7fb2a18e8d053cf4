"""What the request half of an exchange yields: read once when the exchange starts, reused when it ends."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lunaroute.types import Endpoint, ExchangeRecord

from ._request import RequestView, read_request
from ._response import GENERATION_ENDPOINTS
from ._session import session_and_scope
from ._stats import estimate_input

__all__ = ["RequestFacts", "read_facts"]


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The values both ends of an exchange derive from its request alone.

    `session_id` and `scope` (the tracker key of its tool calls: see `session_and_scope`) come from the body,
    the headers and the request id; `view` is the body's `RequestView` without its decoded JSON and text (the
    end of the exchange does not need them, and an exchange may stay open for minutes); `estimated_input` is
    `estimate_input` for generation endpoints, else (or when not asked for) None. `body`, `headers` and
    `endpoint` are what they were derived from: `matches` tells whether another record still has them.
    """

    body: bytes
    headers: tuple[tuple[str, str], ...]
    endpoint: Endpoint
    session_id: str
    scope: str
    view: RequestView
    estimated_input: int | None

    def matches(self, record: ExchangeRecord) -> bool:
        """Whether `record`'s request is the one these facts were read from (the request id is the caller's key)."""
        body = record.request_body
        return (
            record.endpoint is self.endpoint
            and (body is self.body or body == self.body)
            and tuple(record.request_headers) == self.headers
        )


def read_facts(record: ExchangeRecord, *, estimate: bool = True) -> tuple[RequestFacts, RequestView]:
    """The facts of `record`'s request, and its full `RequestView`; never raises. Without `estimate`, the
    (costly) input-token estimate is left out (None)."""
    session_id, scope = session_and_scope(record)
    view = read_request(record.request_body, record.endpoint)
    wanted = estimate and record.endpoint in GENERATION_ENDPOINTS
    estimated = estimate_input(record, view) if wanted else None
    facts = RequestFacts(
        body=record.request_body,
        headers=tuple(record.request_headers),
        endpoint=record.endpoint,
        session_id=session_id,
        scope=scope,
        view=dataclasses.replace(view, json=None, text=""),
        estimated_input=estimated,
    )
    return facts, view
