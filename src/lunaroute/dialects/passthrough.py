"""Passthrough inspection: the little a gateway must read from a JSON body it forwards as bytes.

Pure: `inspect_body` validates in one decoding pass what routing and every later reader need (a UTF-8 JSON object
whose numbers a parser can hold, `model` and `stream` well typed and not duplicated); `rewrite_model` patches the top-level `model` and keeps every other value as its original bytes.
"""

from __future__ import annotations

import json
import re

import msgspec

from lunaroute.errors import InvalidRequest
from lunaroute.scrub import OVERRIDE_FIELDS, without_overrides
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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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

    Cost: that one pass, plus at most one byte search per key for duplicates. Decoding the whole tree was measured
    against validating without building it (a top-level decode to raw values, plus a UTF-8 check and a scan for
    suspicious numbers in Python: `bench/inspect_body.py`) and was as fast or faster on every body shape.
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
    if type(tree) is not dict:
        raise InvalidRequest("the request body must be a JSON object")
    model = tree.get("model")
    if model is not None:
        if type(model) is not str:
            raise InvalidRequest("Expected `str | null`, got `" + _kind(model) + "`", param="model")
        if not model or _CONTROL.search(model):
            raise InvalidRequest("model must be a non-empty name without control characters", param="model")
        if _twice(body, b'"model"'):
            _reject_duplicate_keys(body)
    elif endpoint in _NEEDS_MODEL:
        raise InvalidRequest("model is required", param="model")
    stream = tree.get("stream")
    if stream is not None:
        if type(stream) is not bool:
            raise InvalidRequest("Expected `bool | null`, got `" + _kind(stream) + "`", param="stream")
        if _twice(body, b'"stream"'):
            _reject_duplicate_keys(body)
    if not OVERRIDE_FIELDS.isdisjoint(tree):
        body = without_overrides(body)
    return model, bool(stream), body


def _twice(body: bytes, key: bytes) -> bool:
    """Whether `key` occurs more than once in `body`, when it occurs at all: two searches from either end, of
    which one stops at once (a key near the start or the end) and the other scans until it meets the first."""
    first = body.find(key)
    return first != -1 and body.rfind(key) != first


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
        except msgspec.DecodeError:  # another fault in another member (invalid UTF-8): not this one
            continue
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
