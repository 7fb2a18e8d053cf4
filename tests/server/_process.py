"""`serve_in_process`: `lunaroute serve` in a process of its own on a free loopback port, for tests that need
real separate gateway processes (shared key stores, signals)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_process(config_yaml: str, workdir: Path, *, name: str = "gateway") -> Iterator[str]:
    """Start a gateway with `config_yaml` (without `port`, which is added) and yield its URL; stop it after.

    Its log goes to `workdir/<name>.log`; a gateway that does not start within 20 s fails with that log.
    """
    port = free_port()
    config = workdir / f"{name}.yaml"
    config.write_text(f"port: {port}\n{config_yaml}")
    log_path = workdir / f"{name}.log"
    env = {**os.environ, "LUNAROUTE_HOME": str(workdir / f"{name}-home")}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lunaroute", "serve", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{name} did not start:\n{log_path.read_text()}") from None
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
