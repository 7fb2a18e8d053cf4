"""Continue a stored response: splice what it answered into a request that names it in `previous_response_id`."""

from __future__ import annotations

import msgspec

from lunaroute.dialects.passthrough import top_level
from lunaroute.errors import InvalidRequest, NotFound

from ._store import ResponseStore

__all__ = ["continue_from", "input_items"]


def input_items(raw: msgspec.Raw | None) -> list[object]:
    """A request's `input` as a list of items (a plain string is one user message)."""
    value = msgspec.json.decode(raw) if raw is not None else None
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return value if isinstance(value, list) else []


async def continue_from(store: ResponseStore | None, body: bytes) -> tuple[bytes, list[object] | None]:
    """The body to translate, and every input item it answers when it continues a stored response.

    Without `previous_response_id` the body is returned as it is, and None. With one, the stored response's
    input and output come first in `input` (its `instructions` are not carried over, as with OpenAI) and the
    key is removed. Raises `NotFound` (the Responses API's 404) when no such response is stored.
    """
    top = top_level(body)
    raw = top.get("previous_response_id")
    previous = msgspec.json.decode(raw) if raw is not None else None
    if previous is None:
        return body, None
    if not isinstance(previous, str):
        raise InvalidRequest("previous_response_id must be a string", param="previous_response_id")
    stored = await store.get(previous) if store is not None else None
    if stored is None:
        raise NotFound(f"Previous response with id '{previous}' not found.", param="previous_response_id")
    answered = msgspec.json.decode(stored.response)
    output = answered.get("output") if isinstance(answered, dict) else None
    history: list[object] = msgspec.json.decode(stored.input)
    items = [*history, *(output if isinstance(output, list) else []), *input_items(top.get("input"))]
    top["input"] = msgspec.Raw(msgspec.json.encode(items))
    del top["previous_response_id"]
    return msgspec.json.encode(top), items
