"""Render the effective configuration as YAML with secrets masked."""

from __future__ import annotations

import yaml

from lunaroute.config import Config, mask_secret, masked_config

__all__ = ["mask_secret", "render_effective_config"]


def render_effective_config(config: Config) -> str:
    return yaml.safe_dump(masked_config(config), sort_keys=False, allow_unicode=True)
