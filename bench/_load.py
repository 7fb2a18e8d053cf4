"""Load generation: wrk with a Lua script (POST bodies, exact percentiles), else a Python generator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _payloads import BENCH_KEY, STREAM_HEADER, chat_request
from _procs import pinned

__all__ = ["LoadResult", "Loader"]

_MARK = "BENCH-RESULT "

_LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
{stream_header}
local f = assert(io.open("{body_path}", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests":%d,"seconds":%.6f,"p50_ms":%.4f,"p99_ms":%.4f,"errors":%d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """One load run: completed requests, failed ones (non-2xx/3xx or socket errors), wall time, latency."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    proxy_cpu_s: float | None = None
    """CPU time the proxy under test used during the run (None when there is no proxy)."""
    others_cpu_s: float = 0.0
    """CPU time other processes took on the proxy's core during the run: contention, not our cost."""
    main_cpu_s: float | None = None
    """Of `proxy_cpu_s`, what the proxy's own process used (the rest is its child processes, e.g. the recorder)."""

    @property
    def proxy_cpu_us_per_request(self) -> float | None:
        if self.proxy_cpu_s is None or not self.requests:
            return None
        return self.proxy_cpu_s / self.requests * 1e6

    @property
    def main_cpu_us_per_request(self) -> float | None:
        if self.main_cpu_s is None or not self.requests:
            return None
        return self.main_cpu_s / self.requests * 1e6

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Loader:
    """Runs load against a URL from `core`, with wrk when `wrk` is a path, else with `_pyload.py`.

    `body(stream)` gives the request body of each kind (default: the ~2 KB chat request); give each Loader with
    another body its own `work_dir`, where it writes its bodies and scripts."""

    def __init__(
        self, work_dir: Path, core: int, wrk: str | None, body: Callable[[bool], bytes] = chat_request
    ) -> None:
        self._dir = work_dir
        self._core = core
        self._wrk = wrk
        self._body = body
        self._bodies = {stream: self._write_body(stream) for stream in (False, True)}

    @property
    def tool(self) -> str:
        return "wrk" if self._wrk else "python"

    def _write_body(self, stream: bool) -> Path:
        path = self._dir / f"request-{'stream' if stream else 'json'}.json"
        path.write_bytes(self._body(stream))
        return path

    def run(self, url: str, *, stream: bool, connections: int, seconds: float) -> LoadResult:
        """Load `url` for `seconds` over `connections` keep-alive connections."""
        if self._wrk:
            return self._run_wrk(url, stream, connections, seconds)
        return self._run_python(url, stream, connections, seconds)

    def _run_wrk(self, url: str, stream: bool, connections: int, seconds: float) -> LoadResult:
        assert self._wrk is not None
        script = self._dir / f"wrk-{'stream' if stream else 'json'}.lua"
        header = f'wrk.headers["{STREAM_HEADER}"] = "1"' if stream else ""
        lua = _LUA.format(stream_header=header, body_path=self._bodies[stream], mark=_MARK, key=BENCH_KEY)
        script.write_text(lua)
        argv = [self._wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script)]
        return _parse(_check_output(pinned(self._core, [*argv, url]), seconds))

    def _run_python(self, url: str, stream: bool, connections: int, seconds: float) -> LoadResult:
        generator = Path(__file__).with_name("_pyload.py")
        argv = [sys.executable, str(generator), url, str(self._bodies[stream]), str(connections), str(seconds)]
        argv.append(STREAM_HEADER if stream else "")
        return _parse(_check_output(pinned(self._core, argv), seconds))


def _check_output(argv: list[str], seconds: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[3]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def _parse(output: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith(_MARK):
            return LoadResult(**json.loads(line[len(_MARK) :]))
    raise RuntimeError(f"no result in the load generator's output:\n{output[-1000:]}")
