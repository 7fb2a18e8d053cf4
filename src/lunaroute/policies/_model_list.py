"""`GET /v1/models` for a key limited to some models: the upstream's list, cut to the models the key may use.

Both dialects answer the listing as `{"data": [{"id": ...}, ...], ...}`; entries whose `id` the key's model
patterns do not allow are removed and every other field is kept. An answer that is not such a JSON object (an
error, an unexpected shape) passes unchanged.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec

from lunaroute.errors import UpstreamUnreachable
from lunaroute.keys import KeyRecord, model_allowed
from lunaroute.providers import BufferedResponse
from lunaroute.types import Headers, UpstreamResponse

__all__ = ["filter_listing", "restrict_model_list", "without_compression"]

_MAX_LIST_BYTES = 8 * 1024 * 1024


def without_compression(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Ask the upstream for an uncompressed listing, so that it can be read and cut."""
    return [(name, value) for name, value in headers if name != "accept-encoding"]


def filter_listing(body: bytes, record: KeyRecord) -> bytes | None:
    """The listing without the models `record` may not use; None when `body` is not a listing."""
    try:
        doc: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        return None
    doc["data"] = [
        m
        for m in doc["data"]
        if isinstance(m, dict) and isinstance(m.get("id"), str) and model_allowed(record, m["id"])
    ]
    if "first_id" in doc or "last_id" in doc:  # Anthropic's paging fields name the page's ends
        doc["first_id"] = doc["data"][0]["id"] if doc["data"] else None
        doc["last_id"] = doc["data"][-1]["id"] if doc["data"] else None
    return msgspec.json.encode(doc)


def _encoding(headers: Headers) -> str:
    return next((v for k, v in headers if k == "content-encoding"), "identity").strip().lower()


async def restrict_model_list(response: UpstreamResponse, record: KeyRecord) -> UpstreamResponse:
    """`response` with its listing cut to `record`'s models (read whole; at most 8 MiB)."""
    if response.status != 200 or response.is_event_stream or _encoding(response.headers) != "identity":
        return response
    try:
        body = await response.read()
    except (aiohttp.ClientError, OSError) as exc:
        response.close()
        raise UpstreamUnreachable(f"the model listing broke off: {exc}") from None
    if len(body) > _MAX_LIST_BYTES:
        return BufferedResponse(response, body)
    filtered = filter_listing(body, record)
    return BufferedResponse(response, body if filtered is None else filtered)
