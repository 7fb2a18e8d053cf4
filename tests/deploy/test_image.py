"""The Dockerfile builds, and the image serves: an official-SDK request through the container reaches the fake
upstream, as the non-root user, with the session recorded on the `/data` volume and the HEALTHCHECK passing."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest
import yaml
from tests.deploy._podman import container, podman, wait_healthy
from tests.server._process import free_port

from lunaroute.testing import Answer, FakeUpstream, Reply, upstream_config

# Building the image (and, on a fresh machine, the base images) takes longer than the default timeout.
pytestmark = pytest.mark.timeout(900)


def write_config(path: Path, upstream: FakeUpstream, **overrides: object) -> Path:
    raw = upstream_config(upstream.url, session_recording={"enabled": True}, **overrides)
    path.write_text(yaml.safe_dump(raw))
    path.chmod(0o644)
    return path


async def test_sdk_request_through_the_container(image: str, upstream: FakeUpstream, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.yaml", upstream, auth={"allow_unauthenticated": True}, ui={"enabled": False}
    )
    port = free_port()
    upstream.enqueue(Reply(answer=Answer(text="from the fake upstream")))
    mount = f"--volume={config}:/etc/lunaroute/config.yaml:ro"
    with container(image, env={"LUNAROUTE_PORT": str(port)}, options=(mount,)) as cid:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, cid)
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-client", max_retries=0) as client:
            result = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
            )
        assert result.choices[0].message.content == "from the fake upstream"
        assert upstream.last_request.path == "/v1/chat/completions"
        assert upstream.last_request.header("authorization") == "Bearer sk-client"
        assert podman("exec", cid, "id", "-u").stdout.strip() == "10001"
        assert podman("healthcheck", "run", cid, check=False).returncode == 0
        # The recorder (in the idle scheduling class) records off the request path: give it time on a busy host.
        deadline = time.monotonic() + 60
        while True:
            sessions = podman("exec", cid, "lunaroute", "sessions", "list", "--json", check=False)
            if "gpt-4o-mini" in sessions.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert sessions.returncode == 0, sessions.stderr
        assert "gpt-4o-mini" in sessions.stdout


async def test_refuses_to_listen_beyond_loopback_without_auth(
    image: str, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", upstream)
    mount = f"--volume={config}:/etc/lunaroute/config.yaml:ro"
    with container(image, env={"LUNAROUTE_PORT": str(free_port())}, options=(mount,)) as cid:
        status = podman("wait", cid, timeout=180).stdout.strip()
        assert status == "2"
        assert "auth.mode: keys" in podman("logs", cid).stderr
