"""Strict JSON reading for the codecs: bounded parsing and typed field access with error paths."""

from __future__ import annotations

import re
from itertools import accumulate
from typing import NoReturn

import msgspec

from lunaroute.errors import LunaRouteError
from lunaroute.model import Extras, WireDialect

__all__ = ["MAX_DEPTH", "Obj", "parse_json", "parse_object", "put_extras"]

MAX_DEPTH = 64
"""The deepest nesting of arrays/objects a body may have."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _depth(body: bytes) -> int:
    skeleton = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    return max(accumulate(_STEP[c] for c in skeleton), default=0)


def parse_json(body: bytes, error: type[LunaRouteError]) -> object:
    """Parse `body` as UTF-8 JSON, or raise `error`.

    Rejected: invalid UTF-8, a BOM, malformed JSON, NaN/Infinity and out-of-range numbers, nesting
    deeper than `MAX_DEPTH`.
    """
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise error(f"JSON nesting deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise error("body is not valid UTF-8") from None
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise error(f"body is not valid JSON: {exc}") from None
    # Nesting never exceeds the number of opening brackets, so the scan only runs for bodies that have many.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth(body) > MAX_DEPTH:
        raise error(f"JSON nesting deeper than {MAX_DEPTH} levels")
    return value


def parse_object(body: bytes, error: type[LunaRouteError]) -> Obj:
    """Parse `body` as a JSON object (see `parse_json`) and wrap it for typed reading."""
    return Obj.of(parse_json(body, error), "", error)


class Obj:
    """Typed reads from one JSON object; every read marks its key used, `extras` keeps the rest.

    A key whose value is `null` counts as absent. A wrong type raises `error` naming the key path.
    """

    __slots__ = ("_error", "_path", "_used", "value")

    def __init__(self, value: dict[str, object], path: str, error: type[LunaRouteError]) -> None:
        self.value = value
        self._path = path
        self._error = error
        self._used: set[str] = set()

    @classmethod
    def of(cls, value: object, path: str, error: type[LunaRouteError]) -> Obj:
        if not isinstance(value, dict):
            raise error(f"{path or 'body'} must be a JSON object", param=path or None)
        return cls(value, path, error)

    def param(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def fail(self, key: str, message: str) -> NoReturn:
        param = self.param(key)
        raise self._error(f"{param}: {message}", param=param)

    def get(self, key: str) -> object:
        """The raw value of `key` (None when absent or null), marked used."""
        self._used.add(key)
        return self.value.get(key)

    def release(self, key: str) -> None:
        """Unmark `key`, so that `extras` keeps it verbatim although it was read."""
        self._used.discard(key)

    def has(self, key: str) -> bool:
        return self.value.get(key) is not None

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.get(key)
        if value is None:
            if required:
                self.fail(key, "is required")
            return None
        if not isinstance(value, str):
            self.fail(key, "must be a string")
        return value

    def req_str(self, key: str) -> str:
        value = self.string(key, required=True)
        assert value is not None
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(key, "must be a boolean")
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(key, "must be an integer")
        if minimum is not None and value < minimum:
            self.fail(key, f"must be >= {minimum}")
        return value

    def number(self, key: str, *, minimum: float, maximum: float) -> float | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(key, "must be a number")
        if not minimum <= value <= maximum:
            self.fail(key, f"must be between {minimum:g} and {maximum:g}")
        return float(value)

    def array(self, key: str, *, required: bool = False) -> list[object] | None:
        value = self.get(key)
        if value is None:
            if required:
                self.fail(key, "is required")
            return None
        if not isinstance(value, list):
            self.fail(key, "must be an array")
        return value

    def obj(self, key: str) -> Obj | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, "must be an object")
        return Obj(value, self.param(key), self._error)

    def items(self, key: str, *, required: bool = False) -> list[Obj]:
        """The objects of the array at `key`, each wrapped with its indexed path."""
        values = self.array(key, required=required) or []
        return [Obj.of(v, f"{self.param(key)}[{i}]", self._error) for i, v in enumerate(values)]

    def strings(self, key: str) -> list[str] | None:
        values = self.array(key)
        if values is None:
            return None
        if not all(isinstance(v, str) for v in values):
            self.fail(key, "must be an array of strings")
        return [v for v in values if isinstance(v, str)]

    def extras(self, dialect: WireDialect) -> Extras | None:
        """The keys not read so far, as raw JSON; None when there are none."""
        rest = {k: msgspec.Raw(msgspec.json.encode(v)) for k, v in self.value.items() if k not in self._used}
        return Extras(dialect=dialect, fields=rest) if rest else None


def put_extras(out: dict[str, object], extras: Extras | None, dialect: WireDialect) -> dict[str, object]:
    """Add `extras` of `dialect` to `out` without overriding its keys; foreign extras are ignored."""
    if extras is not None and extras.dialect == dialect:
        for key, raw in extras.fields.items():
            out.setdefault(key, raw)
    return out
