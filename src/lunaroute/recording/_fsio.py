"""Small blocking file-system helpers for the recording stores: private modes, whole writes, fsync of dirs.

Every function here blocks; callers run them in a worker thread (or accept a page-cache write on purpose).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "ensure_dir", "fsync_dir", "open_append", "write_all"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_dir(path: Path) -> bool:
    """Create `path` (and missing parents) with mode 0700; return True when `path` itself was created.

    The mode is set with `chmod` after creation, so the process umask cannot widen it.
    """
    if path.is_dir():
        return False
    parent = path.parent
    if parent != path and not parent.is_dir():
        ensure_dir(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, DIR_MODE)
    return True


def fsync_dir(path: Path) -> None:
    """fsync a directory so that entries created, renamed or removed in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_append(path: Path) -> tuple[int, bool]:
    """Open `path` for appending (created with mode 0600); return the fd and whether the file was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC), False
    os.fchmod(fd, FILE_MODE)
    return fd, True


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` (one `write()` in practice; loops on a short write)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
