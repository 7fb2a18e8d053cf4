"""Config keys of the `bedrock` and `azure` providers: defaults, required keys, and keys on the wrong type."""

from __future__ import annotations

from typing import Any

import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError


def provider(**keys: Any) -> dict[str, Any]:
    return {"providers": {"p": keys}}


def test_bedrock_endpoint_defaults_to_the_regional_runtime() -> None:
    config = config_from_mapping(provider(provider_type="bedrock", region="eu-central-1"), env={})
    assert config.providers["p"].base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"


def test_azure_keys_are_kept() -> None:
    config = config_from_mapping(
        provider(
            provider_type="azure",
            base_url="https://res.openai.azure.com/",
            api_version="2024-10-21",
            deployments={"gpt-4o": "prod-4o"},
            api_key="k",
        ),
        env={},
    )
    azure = config.providers["p"]
    assert (azure.base_url, azure.api_version, azure.deployments) == (
        "https://res.openai.azure.com",
        "2024-10-21",
        {"gpt-4o": "prod-4o"},
    )


@pytest.mark.parametrize(
    ("keys", "path", "reason"),
    [
        ({"provider_type": "bedrock"}, "region", "needs its AWS region"),
        ({"provider_type": "bedrock", "region": "mars"}, "region", "not an AWS region"),
        (
            {"provider_type": "bedrock", "region": "us-east-1", "aws_access_key_id": "A"},
            "aws_secret_access_key",
            "together",
        ),
        ({"provider_type": "bedrock", "region": "us-east-1", "aws_session_token": "t"}, "aws_session_token", "needs"),
        (
            {
                "provider_type": "bedrock",
                "region": "us-east-1",
                "aws_profile": "p",
                "aws_access_key_id": "A",
                "aws_secret_access_key": "S",
            },
            "aws_profile",
            "either",
        ),
        ({"provider_type": "bedrock", "region": "us-east-1", "api_key": "k"}, "api_key", "AWS credentials"),
        ({"provider_type": "openai", "region": "us-east-1"}, "region", "bedrock providers only"),
        ({"provider_type": "anthropic", "deployments": {"a": "b"}}, "deployments", "azure providers only"),
        ({"provider_type": "mock", "api_version": "v1"}, "api_version", "azure providers only"),
        ({"provider_type": "azure", "base_url": "https://r.openai.azure.com"}, "api_version", "needs its api_version"),
        ({"provider_type": "azure", "base_url": "https://r", "api_version": "latest"}, "api_version", "not an Azure"),
        ({"provider_type": "azure", "api_version": "v1"}, "base_url", "resource's base_url"),
        (
            {
                "provider_type": "azure",
                "base_url": "https://r",
                "api_version": "v1",
                "api_key": "k",
                "azure_ad_token": "t",
            },
            "azure_ad_token",
            "either",
        ),
        (
            {"provider_type": "azure", "base_url": "https://r", "api_version": "v1", "codex_auth": {"enabled": True}},
            "codex_auth",
            "openai, openai_chat and openai_responses providers only",
        ),
        (
            {"provider_type": "bedrock", "region": "us-east-1", "request_body": {"overrides": {"a": 1}}},
            "request_body",
            "openai-dialect providers only",
        ),
        (
            {"provider_type": "azure", "base_url": "https://r", "api_version": "v1", "deployments": {"m": "a/b"}},
            "deployments.m",
            "not a deployment name",
        ),
    ],
)
def test_invalid_cloud_keys_are_refused(keys: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(provider(**keys), env={})
    assert info.value.path == f"$.providers.p.{path}"
    assert reason in info.value.reason
