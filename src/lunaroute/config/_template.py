"""`lunaroute init`: the whole configuration at its defaults as commented YAML, comments taken from the schema.

Each section's comment is its class docstring and each key's comment the docstring under the field in
`config._schema`, so the file says what the code says. Loading the file gives the defaults back.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache
from typing import Any

import msgspec
import yaml

from lunaroute.config._schema import Config

__all__ = ["render_default_config"]

_WIDTH = 100
_HEADER = """\
# LunaRoute configuration: every key at its default (written by `lunaroute init`).
# Delete what you do not change; unknown keys and bad values are refused with the file, key and reason.
# Check a change with `lunaroute config check`; a running gateway applies it on SIGHUP, `lunaroute reload`
# or by itself when `reload.watch` is on (keys only read at start-up are named in the refusal).
# Strings may use ${VAR} (an environment variable) and ${VAR:-default}.
"""


@cache
def _field_docs(kind: type) -> dict[str, str]:
    """`{field: docstring}` of the string literals that follow annotated fields in `kind` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(kind.__mro__):
        if klass is object or not issubclass(klass, msgspec.Struct) or klass is msgspec.Struct:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, [*body[1:], None], strict=True):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = after.value.value
    return docs


def _comment(text: str | None, indent: str) -> list[str]:
    if not text:
        return []
    paragraph = " ".join(inspect.cleandoc(text).split())
    return [f"{indent}# {line}" for line in textwrap.wrap(paragraph, _WIDTH - len(indent) - 2)]


def _scalar(key: str, value: Any, indent: str) -> list[str]:
    dumped = yaml.safe_dump({key: value}, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
    # A flow-style dump of one mapping is `{key: value}`: keep the inside.
    return [f"{indent}{dumped.strip()[1:-1]}"]


def _struct(value: msgspec.Struct, indent: str) -> list[str]:
    lines: list[str] = []
    docs = _field_docs(type(value))
    for name in value.__struct_fields__:
        item = getattr(value, name)
        lines += _comment(docs.get(name), indent)
        lines += _member(name, item, indent)
    return lines


def _member(name: str, item: Any, indent: str) -> list[str]:
    if isinstance(item, msgspec.Struct):
        return [*_comment(type(item).__doc__, indent), f"{indent}{name}:", *_struct(item, indent + "  ")]
    if isinstance(item, dict) and item and all(isinstance(v, msgspec.Struct) for v in item.values()):
        lines = [f"{indent}{name}:"]
        for key, sub in item.items():
            lines += [f"{indent}  {key}:", *_struct(sub, indent + "    ")]
        return lines
    return _scalar(name, msgspec.to_builtins(item), indent)


def render_default_config() -> str:
    """The YAML text of `Config()` with a comment for every section and documented key."""
    lines = _HEADER.splitlines()
    config = Config()
    docs = _field_docs(Config)
    for name in config.__struct_fields__:
        lines.append("")
        lines += _comment(docs.get(name), "")
        lines += _member(name, getattr(config, name), "")
    return "\n".join(lines) + "\n"
