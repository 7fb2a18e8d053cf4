"""`deploy/compose.yaml`: it conforms to the Compose specification, its parts point at each other (mounted files,
Prometheus targets, load-balancer upstreams, the gateway config and its variables), and two gateway replicas
run from its definition share keys, rate limits and one session database.

No registry is reachable here, so the replicas run from the project's image with Podman on the host's network
and use the host's PostgreSQL and Redis (the test services) in place of the stack's `postgres` and `redis`
containers; the load balancer, Prometheus and Grafana images are not run.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import asyncpg  # type: ignore[import-untyped]
import jsonschema
import openai
import pytest
import yaml
from tests._needs import fresh_pg_database
from tests.deploy._podman import container, wait_healthy
from tests.server._process import free_port
from tests.state.conftest import REDIS_URL, open_redis

from lunaroute.config import Config, check_exposure, config_from_mapping
from lunaroute.testing import Answer, FakeUpstream, Reply

# Building the image (and, on a fresh machine, the base images) takes longer than the default timeout.
pytestmark = pytest.mark.timeout(900)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
GATEWAYS = sorted(name for name in COMPOSE["services"] if name.startswith("gateway-"))
ADMIN = "admin-key-of-the-compose-test"


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as vendored by check-jsonschema (no network needed)."""
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return dict(json.loads(path.read_text()))


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount of `service` (named volumes left out)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts.append(((DEPLOY / source).resolve(), target))
    return mounts


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` against `dotenv` (as `docker compose` reads
    `.env`); a required variable that is missing fails the test with its message."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if dotenv.get(name):
            return dotenv[name]
        if op == ":?":
            raise AssertionError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", one, value)


def example_dotenv() -> dict[str, str]:
    """`deploy/.env.example` as the `.env` a user makes from it."""
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def gateway_env(dotenv: dict[str, str]) -> dict[str, str]:
    return {name: interpolate(str(value), dotenv) for name, value in COMPOSE["x-gateway"]["environment"].items()}


def gateway_config(env: dict[str, str]) -> Config:
    (config_file,) = [
        host for host, target in bind_mounts(COMPOSE["services"]["gateway-1"]) if target.endswith(".yaml")
    ]
    return config_from_mapping(yaml.safe_load(config_file.read_text()), source=str(config_file), env=env)


def test_compose_file_conforms_to_the_compose_specification() -> None:
    jsonschema.validate(COMPOSE, compose_schema())


def test_every_mounted_file_exists_and_dependencies_name_services() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        assert "image" in service, name
        for host, _ in bind_mounts(service):
            assert host.exists(), f"{name} mounts {host}, which is missing"
        depends = service.get("depends_on", [])
        assert set(depends) <= set(services), name
    assert len(GATEWAYS) == 2
    assert COMPOSE["services"]["gateway-1"]["build"]["context"] == ".."
    assert (DEPLOY / ".." / "Dockerfile").exists()


def test_prometheus_scrapes_every_replica_and_loads_the_alert_rules() -> None:
    prometheus = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets == [f"{name}:8081" for name in GATEWAYS]
    mounted = {target for _, target in bind_mounts(COMPOSE["services"]["prometheus"])}
    assert set(prometheus["rule_files"]) <= mounted
    assert yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]


def test_load_balancer_spreads_over_every_replica_without_buffering_streams() -> None:
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert re.findall(r"server (gateway-\d+):8081", nginx) == GATEWAYS
    assert "proxy_buffering off;" in nginx


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard() -> None:
    provisioning = DEPLOY / "compose" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "lunaroute.yaml").read_text())["providers"]
    mounted = {target for _, target in bind_mounts(COMPOSE["services"]["grafana"])}
    assert f"{provider['options']['path']}/lunaroute-dashboard.json" in mounted


def test_the_gateway_config_uses_only_variables_compose_sets_and_is_safe_to_expose() -> None:
    env = gateway_env(example_dotenv())
    config = gateway_config(env)
    check_exposure(config)
    assert config.host == "0.0.0.0"
    assert config.auth.mode == "keys"
    assert config.state.backend == "redis"
    assert config.session_recording.postgres.enabled
    assert config.session_recording.postgres.connection_string == config.auth.database
    assert config.providers["openai"].base_url == "https://api.openai.com/v1"
    with pytest.raises(Exception, match="LUNAROUTE_REDIS_URL"):
        gateway_config({k: v for k, v in env.items() if k != "LUNAROUTE_REDIS_URL"})


async def test_two_replicas_share_keys_limits_and_the_session_database(
    image: str, upstream: FakeUpstream, tmp_path: Path
) -> None:
    probe = await open_redis("lunaroute-test-compose:")  # skips (fails in CI) without Redis
    await probe.aclose()
    service = COMPOSE["services"]["gateway-1"]
    mounts = tuple(f"--volume={host}:{target}:ro" for host, target in bind_mounts(service))
    async with fresh_pg_database() as pg_url:
        env = {
            **gateway_env(example_dotenv()),
            "LUNAROUTE_PG_URL": pg_url,
            "LUNAROUTE_REDIS_URL": REDIS_URL,
            "LUNAROUTE_ADMIN_KEY": ADMIN,
            "LUNAROUTE_OPENAI_URL": f"{upstream.url}/v1",
            "LUNAROUTE_OPENAI_KEY": "sk-upstream",
            "LUNAROUTE_ANTHROPIC_URL": upstream.url,
            "LUNAROUTE_ANTHROPIC_KEY": "sk-ant-upstream",
        }
        ports = [free_port(), free_port()]
        with (
            container(image, env={**env, "LUNAROUTE_PORT": str(ports[0])}, options=mounts) as first,
            container(image, env={**env, "LUNAROUTE_PORT": str(ports[1])}, options=mounts) as second,
        ):
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            wait_healthy(urls[0], first)
            wait_healthy(urls[1], second)
            secret = await _create_key(urls[0], {"name": "team-a", "rpm": 3})
            # The replica that did not create it reads keys from the shared store in creation order: once it
            # knows a key made afterwards, it knows this one (polled with that one, so no request counts here).
            await _until_key_is_known(urls[1], await _create_key(urls[0], {"name": "probe"}))
            upstream.reset()
            upstream.enqueue(*(Reply(answer=Answer(text="ok")) for _ in range(3)))
            oai = [openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0) for url in urls]
            ant = anthropic.AsyncAnthropic(base_url=urls[1], api_key=secret, max_retries=0)
            messages: Any = [{"role": "user", "content": "hi"}]
            await oai[0].chat.completions.create(model="gpt-4o", messages=messages)
            await ant.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=messages)
            await oai[0].chat.completions.create(model="gpt-4o", messages=messages)
            with pytest.raises(openai.RateLimitError):
                await oai[1].chat.completions.create(model="gpt-4o", messages=messages)
            for client in oai:
                await client.close()
            await ant.close()
            sent = [r for r in upstream.requests if r.method == "POST"]
            assert [r.header("authorization") or r.header("x-api-key") for r in sent] == [
                "Bearer sk-upstream",
                "sk-ant-upstream",
                "Bearer sk-upstream",
            ]
            # Every exchange is in the one database, whichever replica served it: the key probe (GET /v1/models),
            # the three answered conversations and the refused one.
            assert await _sessions_recorded(pg_url, want=5) == 5
            assert await _statuses(pg_url) == [
                (200, ""),
                (200, "claude-sonnet-4-5"),
                (200, "gpt-4o"),
                (200, "gpt-4o"),
                (429, "gpt-4o"),
            ]


async def _create_key(url: str, spec: dict[str, Any]) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/admin/keys", json=spec, headers={"authorization": f"Bearer {ADMIN}"}) as created,
    ):
        assert created.status == 201, await created.text()
        return str((await created.json())["key"])


async def _until_key_is_known(url: str, secret: str, within: float = 30.0) -> None:
    """Wait until the replica that did not create the key has read it from the shared store."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{url}/v1/models", headers={"authorization": f"Bearer {secret}"}) as answer:
                if answer.status != 401:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never accepted the key created on the other replica")


async def _statuses(pg_url: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT ss.status_code, s.model_requested FROM sessions s JOIN session_stats ss USING (session_id)"
        )
        return sorted((int(r["status_code"]), str(r["model_requested"])) for r in rows)
    finally:
        await conn.close()


async def _sessions_recorded(pg_url: str, want: int, within: float = 60.0) -> int:
    """The sessions both replicas recorded in the one database, once `want` are there (or `within` passed)."""
    conn = await asyncpg.connect(pg_url)
    try:
        deadline = time.monotonic() + within
        count = 0
        while time.monotonic() < deadline:
            try:
                count = int(await conn.fetchval("SELECT count(*) FROM sessions"))
            except asyncpg.UndefinedTableError:
                count = 0
            if count >= want:
                break
            await asyncio.sleep(0.2)
        return count
    finally:
        await conn.close()
