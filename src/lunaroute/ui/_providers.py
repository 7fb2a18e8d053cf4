"""`GET /api/providers` on the UI listener: each provider's health, breaker state, requests in flight and last
error, read from the running gateway at each call (the UI shows them on the dashboard).

The gateway hands the UI a callable; a UI served on its own (no gateway in the process) answers
`{"live": false, "data": []}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import msgspec
from aiohttp import web

__all__ = ["ProviderStatus", "add_provider_api"]

ProviderStatus = Callable[[], Sequence[Mapping[str, object]]]
"""The providers of the running config, each as the admin API's `GET /admin/providers` describes it."""

_encode = msgspec.json.Encoder().encode


def add_provider_api(app: web.Application, status: ProviderStatus | None) -> None:
    """Register `/api/providers` on `app` (the UI's API application)."""

    async def providers(_: web.Request) -> web.Response:
        body = {"live": status is not None, "data": list(status()) if status is not None else []}
        return web.Response(body=_encode(body), content_type="application/json")

    app.router.add_get("/api/providers", providers)
