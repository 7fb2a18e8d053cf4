"""Child processes of the benchmark: pinned to a core, waited for, measured, and always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "Procs",
    "core_busy_seconds",
    "cpu_seconds",
    "free_port",
    "machine_busy",
    "pinned",
    "rss_kib",
    "wait_http",
    "wait_port",
]

_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: int, argv: Sequence[str]) -> list[str]:
    """`argv` run under `taskset -c core` (taskset execs, so the pid stays the program's own)."""
    return ["taskset", "-c", str(core), *argv]


def wait_port(port: int, timeout: float = 15.0) -> None:
    """Return once 127.0.0.1:port accepts a connection; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s")


def wait_http(url: str, timeout: float = 15.0) -> None:
    """Return once GET `url` answers 200; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=0.5) as answer:
            if answer.status == 200:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def _status_kib(pid: int, field: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of `pid` and its descendants in KiB (`VmHWM` gives each one's peak instead)."""
    return sum(_status_kib(p, field) for p in _tree(pid))


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU time used so far by `pid` and (unless `children` is false) its live descendants."""
    total = 0
    for p in _tree(pid) if children else [pid]:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / _TICK


def core_busy_seconds(core: int) -> float:
    """Seconds core `core` has spent not idle since boot, by every process (from /proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(v) for v in line.split()[1:]]
            idle = ticks[3] + ticks[4]  # idle, iowait
            return (sum(ticks[:8]) - idle) / _TICK
    raise ValueError(f"no cpu{core} in /proc/stat")


def machine_busy(sample: float = 1.0) -> float:
    """Share (0..1) of all cores busy over the next `sample` seconds, by every process on the machine."""

    def totals() -> tuple[int, int]:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]

    total, idle = totals()
    time.sleep(sample)
    total2, idle2 = totals()
    elapsed = total2 - total
    return 1.0 - (idle2 - idle) / elapsed if elapsed else 0.0


class Procs:
    """Owns every process the benchmark starts; `stop_all` ends them (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._live: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `argv` in its own process group, its output in `<log_dir>/<name>.log`."""
        log = (self._log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        log.close()
        self._live[proc.pid] = proc
        return proc

    def log_tail(self, name: str, size: int = 2000) -> str:
        """The end of `name`'s output, to explain a start that failed."""
        try:
            return (self._log_dir / f"{name}.log").read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        """End `proc` and its process group: SIGTERM, then SIGKILL after `grace` seconds."""
        self._live.pop(proc.pid, None)
        if proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace)

    def stop_all(self) -> None:
        for proc in list(self._live.values()):
            self.stop(proc)

    @contextlib.contextmanager
    def owned(self) -> Iterator[Procs]:
        try:
            yield self
        finally:
            self.stop_all()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
