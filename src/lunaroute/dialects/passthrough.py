"""Passthrough inspection: the little a gateway must read from a JSON body it forwards as bytes.

Pure: `inspect_body` validates in one decoding pass what routing and every later reader need (a UTF-8 JSON object
whose numbers a parser can hold, `model` and `stream` well typed and not duplicated); `rewrite_model` patches the top-level `model` and keeps every other value as its original bytes.
"""

from __future__ import annotations

import json

import msgspec

from lunaroute.errors import InvalidRequest
from lunaroute.scrub import override_fields, without_overrides
from lunaroute.types import Endpoint

__all__ = ["JSON_ENDPOINTS", "inspect_body", "rewrite_model", "top_level"]

JSON_ENDPOINTS = frozenset(
    {
        Endpoint.ANTHROPIC_MESSAGES,
        Endpoint.ANTHROPIC_COUNT_TOKENS,
        Endpoint.OPENAI_CHAT,
        Endpoint.OPENAI_COMPLETIONS,
        Endpoint.OPENAI_RESPONSES,
        Endpoint.OPENAI_EMBEDDINGS,
    }
)
_NEEDS_MODEL = frozenset(
    {Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.OPENAI_COMPLETIONS, Endpoint.OPENAI_RESPONSES}
)


_top_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encoder = msgspec.json.Encoder()


def top_level(body: bytes) -> dict[str, msgspec.Raw]:
    """The top-level members of a JSON object body, each value kept as its original bytes (nothing nested is
    built). Raises `InvalidRequest` when the body is not a JSON object."""
    try:
        return _top_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        raise InvalidRequest("the request body must be a JSON object") from None


def rewrite_model(body: bytes, model: str) -> bytes:
    """`body` with its top-level `model` replaced; every other value is kept as its original bytes."""
    top = top_level(body)
    top["model"] = msgspec.Raw(_encoder.encode(model))
    return _encoder.encode(top)


_tree_decoder = msgspec.json.Decoder()


def inspect_body(endpoint: Endpoint, body: bytes) -> tuple[str | None, bool, bytes]:
    """`(model, stream, body to forward)` of a JSON request body, validating just enough to route and forward it
    safely. The body to forward is `body` itself unless it has top-level override fields (`api_key`, `base_url`...,
    see `lunaroute.scrub`): those are taken out, so they reach neither the upstream nor the recorder.

    One decoding pass (msgspec, in C) checks the whole body as the recorder's parser and the providers will read
    it. Raises `InvalidRequest` for a body that is not a JSON object, invalid UTF-8 anywhere (a lone surrogate or
    an overlong form included), a number outside the double range (`1e999999`), an integer of more than 4,300
    digits, `NaN`/`Infinity`, nesting deeper than the decoder allows, a non-string `model`, a non-boolean
    `stream`, a model name with control characters, a missing model where one is required, or a duplicated
    top-level `model`/`stream` key (routing and the upstream must not read different values).
    """
    if not body:
        raise InvalidRequest("the request body is empty; a JSON object is required")
    try:
        tree = _tree_decoder.decode(body)
    except msgspec.ValidationError as exc:
        # Only numbers fail validation when decoding to builtins: out of range or too many digits.
        message = str(exc).partition(" - at `$")[0]
        raise InvalidRequest(f"{message} in the request body", param=_offending_key(body)) from None
    except msgspec.DecodeError as exc:
        if "UTF-8" in str(exc):
            raise InvalidRequest("the request body is not valid UTF-8") from None
        raise InvalidRequest("the request body is not valid JSON") from None
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
    if not isinstance(tree, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = tree.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest("Expected `str | null`, got `" + _kind(model) + "`", param="model")
    stream = tree.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("Expected `bool | null`, got `" + _kind(stream) + "`", param="stream")
    if model is not None and (not model or any(ord(c) < 0x20 or ord(c) == 0x7F for c in model)):
        raise InvalidRequest("model must be a non-empty name without control characters", param="model")
    if model is None and endpoint in _NEEDS_MODEL:
        raise InvalidRequest("model is required", param="model")
    if body.count(b'"model"') > 1 or body.count(b'"stream"') > 1:
        _reject_duplicate_keys(body)
    if override_fields(tree):
        body = without_overrides(body)
    return model, bool(stream), body


def _offending_key(body: bytes) -> str | None:
    """Slow path, taken only for a refused number: the top-level key whose value holds it."""
    try:
        members = top_level(body)
    except InvalidRequest:
        return None
    for key, raw in members.items():
        try:
            _tree_decoder.decode(raw)
        except msgspec.ValidationError:
            return key
    return None


def _kind(value: object) -> str:
    return {int: "int", float: "float", str: "str", bool: "bool", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _reject_duplicate_keys(body: bytes) -> None:
    """Slow path, taken only when `"model"`/`"stream"` occur more than once: refuse top-level duplicates."""
    seen_last: list[bool] = []

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        seen_last.append(any(keys.count(k) > 1 for k in ("model", "stream")))
        return dict(pairs)

    json.loads(body, object_pairs_hook=hook)
    if seen_last and seen_last[-1]:
        raise InvalidRequest("duplicate top-level keys are not allowed", param="model")
