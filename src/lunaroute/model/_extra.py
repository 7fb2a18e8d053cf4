"""Dialect-scoped passthrough of wire fields the normalized model has no slot for."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Extras", "WireDialect"]

WireDialect = Literal["openai", "anthropic", "bedrock", "openai_responses"]
"""The wire dialect a value was decoded from (`openai` is Chat Completions, `openai_responses` the Responses API)."""


class Extras(msgspec.Struct, frozen=True, kw_only=True):
    """Unknown or dialect-only keys of one JSON object, kept as raw JSON.

    `fields` maps each key the decoder did not interpret to its raw JSON value. An encoder of the
    same `dialect` writes them back unchanged (after the keys it writes itself, never overriding
    them); an encoder of the other dialect ignores them.
    """

    dialect: WireDialect
    fields: dict[str, msgspec.Raw]

    def get(self, dialect: WireDialect, key: str) -> msgspec.Raw | None:
        """The raw value of `key` when these extras belong to `dialect`, else None."""
        if self.dialect != dialect:
            return None
        return self.fields.get(key)
