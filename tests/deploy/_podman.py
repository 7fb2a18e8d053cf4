"""Podman for the container tests: make the offline base (`scripts/container-base`), build the project's image
once per run, run containers and always remove what a test started, by id.

Where Podman cannot run (the script exits 3: not root, no apt, a runtime that refuses containers), the tests
skip with the script's reason, in CI too: a CI machine that cannot run containers is not a defect of the
project. Any other failure (the script breaking, the Dockerfile not building, a container not answering) fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CANNOT_RUN = 3
"""`scripts/container-base`'s exit status for "Podman cannot run here"."""


def ensure_base() -> None:
    """Make the base images (idempotent, about a second when they exist); skip when Podman cannot run."""
    if os.environ.get("LUNAROUTE_SKIP_CONTAINERS"):
        pytest.skip(f"LUNAROUTE_SKIP_CONTAINERS is set: {os.environ['LUNAROUTE_SKIP_CONTAINERS']}")
    if shutil.which("apt-get") is None and shutil.which("podman") is None:
        pytest.skip("Podman is missing and there is no apt-get to install it")
    done = subprocess.run([ROOT / "scripts" / "container-base"], capture_output=True, text=True, timeout=900)
    if done.returncode == CANNOT_RUN:
        pytest.skip(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "Podman cannot run here")
    assert done.returncode == 0, f"scripts/container-base failed ({done.returncode}):\n{done.stderr}"


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def build_image() -> str:
    """Build the project's Dockerfile (docker format, so HEALTHCHECK is kept); return the image id."""
    tag = f"localhost/lunaroute-test:{uuid.uuid4().hex[:12]}"
    podman("build", "--format", "docker", "-q", "-t", tag, str(ROOT), timeout=600)
    return tag


@contextlib.contextmanager
def container(
    image: str, *args: str, env: dict[str, str] | None = None, options: tuple[str, ...] = ()
) -> Iterator[str]:
    """Run `image` detached on the host's network (the fake upstream and the test services listen on loopback)
    with `podman run` `options`; yield the container id; remove the container afterwards (its log is printed,
    so a failing test shows it)."""
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    cid = podman("run", "-d", "--network=host", *flags, *options, image, *args).stdout.strip()
    try:
        yield cid
    finally:
        print(podman("logs", cid, check=False).stderr[-4000:])
        podman("rm", "-f", "-v", "-t", "5", cid, check=False)


def wait_healthy(url: str, cid: str, within: float = 120.0) -> None:
    """Poll `url`/healthz until it answers 200; fail with the container's log when it does not in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        state = podman("inspect", "--format", "{{.State.Status}}", cid, check=False).stdout.strip()
        if state not in ("running", "created", "configured"):
            break
        time.sleep(0.2)
    logs = podman("logs", cid, check=False)
    raise AssertionError(f"container {cid[:12]} not healthy at {url}:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
