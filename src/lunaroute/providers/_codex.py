"""`codex_auth`: the access token the Codex CLI keeps in its `auth.json`, read again whenever the file changes.

The Codex CLI refreshes its ChatGPT token by rewriting the file; each call compares the file's identity
(inode, size, modification time) with the one the cached token came from, a `stat` per call, and re-reads only
on a change.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

from lunaroute.errors import UpstreamError

__all__ = ["CodexToken", "codex_identity"]


class CodexToken:
    """The string at the dotted `field` of the JSON file `path` (e.g. `tokens.access_token`)."""

    def __init__(self, path: Path, field: str) -> None:
        self.path = path
        self.field = field
        self._seen: tuple[int, int, int] | None = None
        self._token: str | None = None
        self.reads = 0
        """How many times the file was read (once per change)."""
        self.on_new: Callable[[str], None] | None = None
        """Called with each token read (the gateway's scrubber learns it, so no output can hold it)."""

    def get(self) -> str:
        """The current token. Raises `UpstreamError` when the file cannot be read or holds no such string."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise UpstreamError(f"codex_auth: cannot read {self.path}: {exc.strerror}") from None
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        if identity != self._seen or self._token is None:
            token = self._token = self._read()
            self._seen = identity
            if self.on_new is not None:
                self.on_new(token)
            return token
        return self._token

    def _read(self) -> str:
        self.reads += 1
        try:
            node: object = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UpstreamError(f"codex_auth: cannot read {self.path}: {exc}") from None
        for key in self.field.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, str) or not node:
            raise UpstreamError(f"codex_auth: {self.path} has no token at {self.field}")
        return node


_OS_NAMES = {"Linux": "Linux", "Darwin": "Mac OS", "Windows": "Windows", "FreeBSD": "FreeBSD"}


def codex_user_agent(version: str) -> str:
    """The `User-Agent` the Codex CLI sends: `codex_cli_rs/{version} ({OS}; {arch}) {terminal}`."""
    system = platform.system()
    return f"codex_cli_rs/{version} ({_OS_NAMES.get(system, system)}; {platform.machine()}) xterm-256color"


def codex_identity(headers: list[tuple[str, str]], version: str) -> list[tuple[str, str]]:
    """`headers` as the Codex CLI would send them: its `originator`, and its `User-Agent` unless the client's
    own already is one (the real Codex CLI's is kept as it is)."""
    agent = next((v for n, v in headers if n == "user-agent"), "")
    keep_agent = agent.startswith("codex_cli_rs/")
    out = [(n, v) for n, v in headers if n != "originator" and (keep_agent or n != "user-agent")]
    if not keep_agent:
        out.append(("user-agent", codex_user_agent(version)))
    out.append(("originator", "codex_cli_rs"))
    return out
