"""Body edits a provider applies to OpenAI chat completions (`request_body`, `response_body` of the Rust
LunaRoute): pure functions over JSON bytes.

A request edit sets `defaults` where the request has no such top-level key, sets `overrides` always, and puts
`prepend_messages` before the request's own messages. A response edit adds a `metadata_namespace` object of
rendered `fields` and the `extension_fields` the answer does not already have; in a stream, to the chunk that
carries the first `finish_reason` (`EditedEvents`). Either re-encodes the body (top-level members the edit does
not touch keep their original bytes); a stream is re-framed event by event (comments dropped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from lunaroute.config import RequestBodyConfig, ResponseBodyConfig
from lunaroute.dialects._sse import SSEEvent, SSEParser
from lunaroute.providers._headers import render_template

__all__ = ["EditedEvents", "edit_request_body", "edit_response_body", "session_id_of"]

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


class EditedEvents:
    """A chat completions event stream with `edit` applied to the chunk that carries the first `finish_reason`:
    feed upstream bytes, get the bytes to relay (whole events only)."""

    def __init__(self, edit: Callable[[bytes], bytes]) -> None:
        self._edit = edit
        self._parser = SSEParser()
        self._done = False

    def feed(self, data: bytes) -> bytes:
        return b"".join(self._frame(e) for e in self._parser.feed(data))

    def finish(self) -> bytes:
        return b"".join(self._frame(e) for e in self._parser.finish())

    def _frame(self, event: SSEEvent) -> bytes:
        data = event.data
        if not self._done and '"finish_reason"' in data and _finishes(data):
            self._done = True
            data = self._edit(data.encode()).decode()
        head = b"" if event.event == "message" else b"event: " + event.event.encode() + b"\n"
        if event.id is not None:
            head += b"id: " + event.id.encode() + b"\n"
        lines = b"".join(b"data: " + line.encode() + b"\n" for line in data.split("\n"))
        return head + lines + b"\n"


def _finishes(data: str) -> bool:
    try:
        chunk = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return False
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    return isinstance(choices, list) and any(
        isinstance(c, dict) and c.get("finish_reason") is not None for c in choices
    )
