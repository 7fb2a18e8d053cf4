"""External tools the benchmark drives (wrk, nginx): found on PATH, else installed from Debian when root."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["ensure_tool"]

_SBIN = ("/usr/sbin", "/usr/local/sbin")


def _which(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    return next((f"{d}/{binary}" for d in _SBIN if os.access(f"{d}/{binary}", os.X_OK)), None)


def _apt(*args: str) -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
    )
    return done.returncode


def ensure_tool(binary: str, packages: tuple[str, ...]) -> str | None:
    """The path of `binary`; when missing and running as root, `apt-get install -y` the first package that
    installs (after one `apt-get update` if none does at first). None when it cannot be had."""
    found = _which(binary)
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    for attempt in range(2):
        if attempt:
            _apt("update")
        for package in packages:
            if _apt("install", "-y", package) == 0 and _which(binary):
                return _which(binary)
    return None
