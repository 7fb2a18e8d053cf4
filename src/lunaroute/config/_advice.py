"""Advice on a config that loads or almost loads: "did you mean" for an unknown key, warnings for likely mistakes."""

from __future__ import annotations

import difflib
import re
from typing import Any

import msgspec

from lunaroute.config._schema import Config

__all__ = ["config_warnings", "did_you_mean"]

_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|'[^']*'|\"[^\"]*\")\]")


def _struct_at(kind: Any, path: str) -> msgspec.inspect.StructType | None:
    """The struct type the key path `path` (`.http_server`, `.routing.rules[0]`) leads to from `kind`."""
    info: msgspec.inspect.Type = msgspec.inspect.type_info(kind)
    for name, _index in _SEGMENT.findall(path):
        info = _unwrap(info)
        if name:
            if isinstance(info, msgspec.inspect.StructType):
                field = next((f for f in info.fields if f.encode_name == name), None)
                if field is None:
                    return None
                info = field.type
            elif isinstance(info, msgspec.inspect.DictType):
                info = info.value_type
            else:
                return None
        elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.TupleType)):
            info = getattr(info, "item_type", msgspec.inspect.AnyType())
        elif isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        else:
            return None
    info = _unwrap(info)
    return info if isinstance(info, msgspec.inspect.StructType) else None


def _unwrap(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """The struct inside `X | None` (the only unions the schema has around sections)."""
    if isinstance(info, msgspec.inspect.UnionType):
        structs = [t for t in info.types if isinstance(t, msgspec.inspect.StructType)]
        if len(structs) == 1:
            return structs[0]
    return info


def did_you_mean(kind: Any, path: str, unknown: str) -> str:
    """` (did you mean `x`?)` when the section at `path` of `kind` has a key close to `unknown`, else ''."""
    struct = _struct_at(kind, path)
    if struct is None:
        return ""
    names = [f.encode_name for f in struct.fields]
    close = difflib.get_close_matches(unknown, names, n=1, cutoff=0.6)
    if not close and unknown.lower() in (n.lower() for n in names):
        close = [n for n in names if n.lower() == unknown.lower()]
    return f" (did you mean `{close[0]}`?)" if close else ""


def config_warnings(config: Config) -> list[str]:
    """Settings that load but are most likely mistakes, as `$.key.path: what and why` lines."""
    out: list[str] = []
    for name, provider in sorted(config.providers.items()):
        url = provider.base_url or ""
        if provider.provider_type == "anthropic" and re.search(r"/v1/?$", url):
            out.append(
                f"$.providers.{name}.base_url: {url} ends in /v1, but an anthropic provider's base_url is the host "
                f"root (the gateway adds /v1/messages): requests would go to {url.rstrip('/')}/v1/messages; "
                "remove the /v1"
            )
    return out
