"""The effective configuration as plain data with its secrets masked (`config show`, `GET /admin/config`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from lunaroute.config._schema import Config

__all__ = ["mask_secret", "masked_config"]

_SECRET_KEYS = re.compile(r"(api_key|secret|token|password)$")
_KEY_MATERIAL = re.compile(r"^(key|previous_keys|admin_key)$")
"""Encryption keys (`session_recording.encryption`) and the admin key: masked whole, not even a prefix is shown."""
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+):([^@\s]+)@")
"""The password of a URL with credentials (`postgresql://user:password@host/db`)."""


def mask_secret(value: str) -> str:
    """Show a short non-secret prefix only: `sk-a…(32 chars)`."""
    return f"{value[:4]}…({len(value)} chars)" if len(value) > 8 else "****"


def _mask(node: Any, key: str, known: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {k: _mask(v, k, known) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v, key, known) for v in node]
    if isinstance(node, str) and _KEY_MATERIAL.search(key):
        return "****"
    if isinstance(node, str) and _SECRET_KEYS.search(key):
        return mask_secret(node)
    if isinstance(node, str):
        return known(_URL_PASSWORD.sub(r"\1:****@", node))
    return node


def masked_config(config: Config, known: Callable[[str], str] = lambda text: text) -> dict[str, Any]:
    """`config` as builtins: secret-named keys masked (a short prefix shown), key material and URL passwords
    hidden whole, and every other string passed through `known` (e.g. `Scrubber.text`, which masks the
    configured provider keys wherever they appear, such as in a request header's value)."""
    masked: dict[str, Any] = _mask(msgspec.to_builtins(config), "", known)
    return masked
