"""Run the gateway detached for `lunaroute env`, find it again by its pid file for `lunaroute stop`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lunaroute.config import home_dir

__all__ = ["log_file_for", "pid_file_for", "start_detached", "stop_server", "wait_healthy"]


def _run_dir() -> Path:
    path = home_dir() / "run"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _slug(host: str, port: int) -> str:
    return f"{host.replace(':', '_')}-{port}"


def pid_file_for(host: str, port: int) -> Path:
    return _run_dir() / f"lunaroute-{_slug(host, port)}.pid"


def log_file_for(host: str, port: int) -> Path:
    return _run_dir() / f"lunaroute-{_slug(host, port)}.log"


def wait_healthy(base_url: str, timeout: float) -> bool:
    """Poll `GET /healthz` until it answers 200 or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=0.5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def start_detached(config_path: str | None, host: str, port: int) -> None:
    """Start `lunaroute serve` in a new session, its output appended to the log file."""
    args = [sys.executable, "-m", "lunaroute", "serve", "--host", host, "--port", str(port)]
    args += ["--pid-file", str(pid_file_for(host, port))]
    if config_path:
        args += ["--config", config_path]
    log = log_file_for(host, port)
    with open(log, "ab") as out:
        os.chmod(log, 0o600)
        subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True)


def _is_lunaroute(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        # No /proc (macOS): trust the pid file, but only if the process exists.
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return b"lunaroute" in cmdline


def stop_server(pid_file: Path, timeout: float = 35.0) -> tuple[str, bool]:
    """SIGTERM the process named by `pid_file` and wait for it to exit. Returns (message, success)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return f"no gateway started by `lunaroute env` is known here ({pid_file} missing)", False
    if not _is_lunaroute(pid):
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        return f"the gateway (pid {pid}) is not running; removed its stale pid file", True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_lunaroute(pid):
            with contextlib.suppress(FileNotFoundError):
                pid_file.unlink()
            return f"stopped the gateway (pid {pid})", True
        time.sleep(0.1)
    return f"the gateway (pid {pid}) did not stop within {timeout:.0f} s", False
