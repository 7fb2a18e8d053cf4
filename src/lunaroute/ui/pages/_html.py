"""A tiny HTML builder that escapes by construction: text is escaped unless it is already `Markup`.

`el("a", {"href": url}, name)` renders `<a href="...">name</a>` with `url` and `name` escaped; only
`Markup` (made by `el`, `join` or `Markup(...)` on trusted literals) passes through unchanged. Attribute
values of `None` or `False` are dropped, `True` renders the bare attribute. Nothing here knows about pages.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import TypeAlias

__all__ = ["Child", "Markup", "el", "esc", "join"]

_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col", "wbr", "source"})


class Markup(str):
    """HTML that is already safe: trusted literals and the output of `el` / `join`."""

    __slots__ = ()


Child: TypeAlias = "Markup | str | int | float | Iterable[Child] | None"
"""What an element may contain: text (escaped), numbers, `Markup`, `None` (nothing), or nested iterables."""


def esc(value: object) -> Markup:
    """`value` as escaped text (`Markup` unchanged); quotes are escaped too, so it is safe in attributes."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def _children(children: Iterable[Child], out: list[str]) -> None:
    for child in children:
        if child is None:
            continue
        if isinstance(child, str | int | float):
            out.append(esc(child))
        else:
            _children(child, out)


def join(*children: Child) -> Markup:
    """The children rendered one after another."""
    out: list[str] = []
    _children(children, out)
    return Markup("".join(out))


def _attrs(attrs: Mapping[str, object] | None) -> str:
    if not attrs:
        return ""
    out = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        out.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    return "".join(out)


def el(tag: str, attrs: Mapping[str, object] | None = None, *children: Child) -> Markup:
    """`<tag attrs>children</tag>`; attribute names ending in `_` lose it (`class_`), `_` becomes `-`."""
    if tag in _VOID:
        return Markup(f"<{tag}{_attrs(attrs)}>")
    return Markup(f"<{tag}{_attrs(attrs)}>{join(*children)}</{tag}>")
