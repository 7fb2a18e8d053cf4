"""Bedrock credentials: static keys with a session token, the standard AWS chain (environment, profile), and
a clear error when there are none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from lunaroute.testing import Answer, AwsKeys, FakeBedrock, GatewayFactory, Reply

KEYS = AwsKeys("ASIAFAKETEMP", "temp-secret", session_token="temp-session-token")


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrock]:
    async with FakeBedrock(keys=KEYS, region="us-west-2") as fake:
        yield fake


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An AWS environment with nothing in it: no variables, empty shared files, no instance metadata."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    return tmp_path


async def ask(make_gateway: GatewayFactory, provider: dict[str, Any]) -> str:
    gateway = await make_gateway(
        providers={"b": provider}, routing={"rules": [{"name": "all", "model_pattern": ".", "primary": "b"}]}
    )
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(
            model="anthropic.claude-3-haiku-20240307-v1:0", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    return message.content[0].text  # type: ignore[union-attr]


def base(fake: FakeBedrock, **extra: Any) -> dict[str, Any]:
    return {"provider_type": "bedrock", "base_url": fake.url, "region": fake.region, **extra}


async def test_static_keys_with_a_session_token(bedrock: FakeBedrock, make_gateway: GatewayFactory) -> None:
    bedrock.enqueue(Reply(answer=Answer(text="signed")))
    provider = base(
        bedrock,
        aws_access_key_id=KEYS.access_key_id,
        aws_secret_access_key=KEYS.secret_access_key,
        aws_session_token=KEYS.session_token,
    )
    assert await ask(make_gateway, provider) == "signed"
    assert bedrock.last_request.header("x-amz-security-token") == KEYS.session_token


async def test_keys_from_the_environment(
    bedrock: FakeBedrock, make_gateway: GatewayFactory, no_aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEYS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEYS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", KEYS.session_token or "")
    bedrock.enqueue(Reply(answer=Answer(text="from env")))
    assert await ask(make_gateway, base(bedrock)) == "from env"


async def test_keys_from_a_named_profile(bedrock: FakeBedrock, make_gateway: GatewayFactory, no_aws_env: Path) -> None:
    (no_aws_env / "credentials").write_text(
        f"[team]\naws_access_key_id = {KEYS.access_key_id}\naws_secret_access_key = {KEYS.secret_access_key}\n"
        f"aws_session_token = {KEYS.session_token}\n"
    )
    bedrock.enqueue(Reply(answer=Answer(text="from profile")))
    assert await ask(make_gateway, base(bedrock, aws_profile="team")) == "from profile"


async def test_no_credentials_is_a_clear_gateway_error(
    bedrock: FakeBedrock, make_gateway: GatewayFactory, no_aws_env: Path
) -> None:
    with pytest.raises(anthropic.APIStatusError, match="no AWS credentials") as info:
        await ask(make_gateway, base(bedrock))
    assert info.value.status_code == 502
    assert bedrock.requests == []
