"""The fuzz targets in the test suite: every seed of their corpus, then a bounded atheris run of each.

`FUZZ_SECONDS` (default 5) bounds each atheris run; what atheris finds is written under the test's temporary
directory and the test fails with the input's path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from . import fuzz_inspect, fuzz_sse

HERE = Path(__file__).parent
TARGETS: dict[str, Callable[[bytes], None]] = {"sse": fuzz_sse.check, "inspect": fuzz_inspect.check}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_holds_the_invariants(name: str) -> None:
    seeds = sorted((HERE / "corpus" / name).iterdir())
    assert seeds
    for seed in seeds:
        data = seed.read_bytes()
        TARGETS[name](data)
        for cut in (0, 1, 97, 200, 255):
            TARGETS[name](bytes([cut]) + data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_bounded_atheris_run_finds_nothing(name: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris (a dev dependency) is not installed")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for seed in (HERE / "corpus" / name).iterdir():
        (corpus / seed.name).write_bytes(seed.read_bytes())
    seconds = int(os.environ.get("FUZZ_SECONDS", "5"))
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / f"fuzz_{name}.py"),
            str(corpus),
            f"-max_total_time={seconds}",
            "-rss_limit_mb=1024",
            "-max_len=4096",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE.parent.parent / "src"), os.environ.get("PYTHONPATH", "")]),
        },
    )
    found = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    assert not found, f"{found} in {tmp_path}:\n{done.stderr[-3000:]}"
    assert done.returncode == 0, done.stderr[-3000:]
