"""Body edits a provider applies to OpenAI chat completions (`request_body`, `response_body` of the Rust
LunaRoute): pure functions over JSON bytes.

A request edit sets `defaults` where the request has no such top-level key, sets `overrides` always, and puts
`prepend_messages` before the request's own messages. A response edit adds a `metadata_namespace` object of
rendered `fields` and the `extension_fields` the answer does not already have. Either re-encodes the body
(top-level members the edit does not touch keep their original bytes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from lunaroute.config import RequestBodyConfig, ResponseBodyConfig
from lunaroute.providers._headers import render_template

__all__ = ["edit_request_body", "edit_response_body", "session_id_of"]

_encode = msgspec.json.encode
_top = msgspec.json.Decoder(dict[str, msgspec.Raw])
_SESSION_HEADERS = ("session_id", "session-id", "x-session-id")


def _members(body: bytes) -> dict[str, msgspec.Raw] | None:
    try:
        return _top.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


def edit_request_body(body: bytes, edit: RequestBodyConfig) -> bytes:
    """`body` (a chat completions request) with `edit` applied; unchanged when it is not a JSON object."""
    top = _members(body)
    if top is None:
        return body
    for key, value in edit.defaults.items():
        if key not in top:
            top[key] = msgspec.Raw(_encode(value))
    for key, value in edit.overrides.items():
        top[key] = msgspec.Raw(_encode(value))
    if edit.prepend_messages:
        messages: Any = msgspec.json.decode(top["messages"]) if "messages" in top else []
        if isinstance(messages, list):
            top["messages"] = msgspec.Raw(_encode([*edit.prepend_messages, *messages]))
    return _encode(top)


def edit_response_body(
    body: bytes, edit: ResponseBodyConfig, variables: Mapping[str, str], env: Mapping[str, str] | None
) -> bytes:
    """`body` (a chat completions answer) with the namespace and extension fields of `edit` added; unchanged
    when it is not a JSON object. `variables` fill the field templates (`model` defaults to the answer's)."""
    top = _members(body)
    if top is None:
        return body
    values = dict(variables)
    if "model" in top:
        answered = msgspec.json.decode(top["model"])
        if isinstance(answered, str):
            values["model"] = answered
    values.setdefault("timestamp", dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"))
    if edit.fields:
        rendered = {name: render_template(template, values, env) for name, template in edit.fields.items()}
        top[edit.metadata_namespace] = msgspec.Raw(_encode(rendered))
    for key, value in edit.extension_fields.items():
        if key not in top:
            top[key] = msgspec.Raw(_encode(value))
    return _encode(top)


def session_id_of(headers: list[tuple[str, str]]) -> str:
    """The Codex-style session id header of a request, or ''."""
    return next((value for name, value in headers if name in _SESSION_HEADERS), "")
