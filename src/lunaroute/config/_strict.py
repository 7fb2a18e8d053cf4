"""The base of every config section."""

from __future__ import annotations

import msgspec

__all__ = ["_Strict"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=False):
    """Base for every config section: unknown keys are errors."""
