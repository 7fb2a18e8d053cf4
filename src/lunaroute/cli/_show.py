"""Render the effective configuration as YAML with secrets masked."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml

from lunaroute.config import Config

__all__ = ["mask_secret", "render_effective_config"]

_SECRET_KEYS = re.compile(r"(api_key|secret|token|password)$")
_KEY_MATERIAL = re.compile(r"^(key|previous_keys|admin_key)$")
"""Encryption keys (`session_recording.encryption`) and the admin key: masked whole, not even a prefix is shown."""
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+):([^@\s]+)@")
"""The password of a URL with credentials (`postgresql://user:password@host/db`)."""


def mask_secret(value: str) -> str:
    """Show a short non-secret prefix only: `sk-a…(32 chars)`."""
    return f"{value[:4]}…({len(value)} chars)" if len(value) > 8 else "****"


def _mask(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _mask(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v, key) for v in node]
    if isinstance(node, str) and _KEY_MATERIAL.search(key):
        return "****"
    if isinstance(node, str) and _SECRET_KEYS.search(key):
        return mask_secret(node)
    if isinstance(node, str):
        return _URL_PASSWORD.sub(r"\1:****@", node)
    return node


def render_effective_config(config: Config) -> str:
    return yaml.safe_dump(_mask(msgspec.to_builtins(config)), sort_keys=False, allow_unicode=True)
