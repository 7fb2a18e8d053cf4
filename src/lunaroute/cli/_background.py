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

__all__ = [
    "abandon",
    "describe_port_owner",
    "is_lunaroute",
    "listener_pid",
    "log_file_for",
    "log_tail",
    "pid_file_for",
    "running_pid",
    "start_detached",
    "started_before_change",
    "stop_server",
    "wait_healthy",
    "wait_started",
]


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


def start_detached(config_path: str | None, host: str, port: int) -> subprocess.Popen[bytes]:
    """Start `lunaroute serve` in a new session, its output appended to the log file, and write its pid file at
    once (the gateway writes the same pid again once it listens): a detached gateway always has one."""
    pid_file = pid_file_for(host, port)
    args = [sys.executable, "-m", "lunaroute", "serve", "--host", host, "--port", str(port)]
    args += ["--pid-file", str(pid_file)]
    if config_path:
        args += ["--config", config_path]
    log = log_file_for(host, port)
    with open(log, "ab") as out:
        os.chmod(log, 0o600)
        child = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )
    fd = os.open(pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as pid_out:
        pid_out.write(f"{child.pid}\n")
    return child


def wait_started(base_url: str, child: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll `GET /healthz` until it answers 200 (True), `child` exits or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        if wait_healthy(base_url, 0):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return False


def abandon(child: subprocess.Popen[bytes], pid_file: Path) -> None:
    """A gateway that did not start: end it if it still runs, and remove its pid file."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()


def log_tail(log: Path, lines: int = 5) -> list[str]:
    """The last `lines` non-empty lines of the log file (none when it cannot be read)."""
    try:
        text = log.read_bytes()[-16_384:].decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def started_before_change(pid_file: Path, config_path: Path | None) -> bool:
    """Whether the gateway of `pid_file` started before `config_path` was last changed (it serves an older one)."""
    if config_path is None:
        return False
    try:
        return config_path.stat().st_mtime > pid_file.stat().st_mtime
    except OSError:
        return False


def running_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` when it names a running gateway."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_lunaroute(pid) else None


def is_lunaroute(pid: int) -> bool:
    """Whether `pid` is a running LunaRoute process (on Linux, by its command line)."""
    return _is_lunaroute(pid)


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


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (Linux `/proc/net/tcp*`; empty elsewhere)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is the 10th field.
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listener_pid(host: str, port: int) -> int | None:
    """The pid of the process listening on `port`: from the pid file `lunaroute env` keeps, else by finding the
    listening socket among this user's processes (Linux); None when neither tells."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file_for(host, port).read_text().strip())
        if _is_lunaroute(pid):
            return pid
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return int(proc.name)
    return None


def describe_port_owner(host: str, port: int) -> str:
    """`a running gateway (pid 123)`, `another program (pid 456)` or `another program` (owner unknown)."""
    pid = listener_pid(host, port)
    if pid is None:
        return "another program"
    return f"a running gateway (pid {pid})" if _is_lunaroute(pid) else f"another program (pid {pid})"
