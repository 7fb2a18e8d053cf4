"""Guessing whether a tool result without an error flag (OpenAI chat, Responses API) reports a failure.

OpenAI tool messages carry no `is_error`, so success is `None` (unknown) unless the content says so plainly:

- a JSON object with a shell exit code (`{"metadata": {"exit_code": N}}`, Codex) or a top-level `exit_code`:
  success is `N == 0`; a JSON object with `"success": <bool>` says it directly; one with `"is_error": true`
  or a non-empty `"error"` member is a failure;
- text whose first line is `Exit code: N` (Codex's plain-text shell output): success is `N == 0`;
- text that *begins* with `Error:`, `Fatal:`, `Exception:`, `Failed:`, `Failure:` or a Python traceback
  header: a failure.

Anything else is `None`: words like "error" or "not found" in the middle of a file listing or a diff are far
too common in successful output to be evidence.
"""

from __future__ import annotations

import re

import msgspec

__all__ = ["guess_success"]

_FAILURE_PREFIX = re.compile(r"(?:error|fatal|exception|failed|failure)\s*:|traceback \(most recent call last\)", re.I)
_EXIT_LINE = re.compile(r"exit code:\s*(-?\d{1,9})\s*$", re.I)


def _exit_code(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _from_json(root: dict[str, object]) -> bool | None:
    metadata = root.get("metadata")
    code = _exit_code(metadata.get("exit_code")) if isinstance(metadata, dict) else None
    if code is None:
        code = _exit_code(root.get("exit_code"))
    if code is not None:
        return code == 0
    if isinstance(root.get("success"), bool):
        return bool(root["success"])
    if root.get("is_error") is True or root.get("error") not in (None, "", False, {}, []):
        return False
    return None


def guess_success(content: str) -> bool | None:
    """True/False when `content` plainly reports success or failure (see the module doc), else None."""
    text = content.lstrip()
    if text.startswith("{"):
        try:
            root = msgspec.json.decode(text)
        except (msgspec.DecodeError, RecursionError, ValueError):
            root = None
        if isinstance(root, dict):
            return _from_json(root)
    first_line = text.split("\n", 1)[0]
    exit_line = _EXIT_LINE.match(first_line)
    if exit_line is not None:
        return int(exit_line.group(1)) == 0
    if _FAILURE_PREFIX.match(text):
        return False
    return None
