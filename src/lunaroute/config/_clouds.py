"""Validation of the cloud providers' own keys: `bedrock` (region, AWS credentials) and `azure` (API version,
deployments, credentials); and the refusal of those keys on providers of another type."""

from __future__ import annotations

import re

from lunaroute.config._schema import ProviderConfig
from lunaroute.errors import ConfigError

__all__ = ["default_base_url", "validate_cloud_keys"]

_AWS_KEYS = ("region", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_profile")
_AZURE_KEYS = ("api_version", "azure_ad_token")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_API_VERSION = re.compile(r"v1|\d{4}-\d{2}-\d{2}(-preview)?")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def default_base_url(provider: ProviderConfig) -> str | None:
    """The endpoint a `bedrock` provider without `base_url` talks to (None for other types)."""
    if provider.provider_type == "bedrock" and provider.region is not None:
        return f"https://bedrock-runtime.{provider.region}.amazonaws.com"
    return None


def validate_cloud_keys(where: str, provider: ProviderConfig, source: str) -> None:
    """Check the keys of `bedrock` and `azure` providers; raise `ConfigError` naming the key."""
    ptype = provider.provider_type
    foreign = [k for k in _AWS_KEYS if ptype != "bedrock" and getattr(provider, k) is not None]
    foreign += [k for k in _AZURE_KEYS if ptype != "azure" and getattr(provider, k) is not None]
    if provider.deployments and ptype != "azure":
        foreign.append("deployments")
    for key in foreign:
        owner = "bedrock" if key in _AWS_KEYS else "azure"
        raise ConfigError(f"applies to {owner} providers only", source=source, path=f"{where}.{key}")
    if ptype == "bedrock":
        _validate_bedrock(where, provider, source)
    elif ptype == "azure":
        _validate_azure(where, provider, source)


def _validate_bedrock(where: str, provider: ProviderConfig, source: str) -> None:
    if provider.region is None:
        raise ConfigError("a bedrock provider needs its AWS region", source=source, path=f"{where}.region")
    if not _REGION.fullmatch(provider.region):
        raise ConfigError("not an AWS region name (like us-east-1)", source=source, path=f"{where}.region")
    key_id, secret = provider.aws_access_key_id, provider.aws_secret_access_key
    if (key_id is None) != (secret is None):
        missing = "aws_secret_access_key" if secret is None else "aws_access_key_id"
        raise ConfigError(
            "aws_access_key_id and aws_secret_access_key go together", source=source, path=f"{where}.{missing}"
        )
    if provider.aws_session_token is not None and key_id is None:
        raise ConfigError(
            "needs aws_access_key_id and aws_secret_access_key", source=source, path=f"{where}.aws_session_token"
        )
    if provider.aws_profile is not None and key_id is not None:
        raise ConfigError("use either static keys or a profile, not both", source=source, path=f"{where}.aws_profile")
    if provider.api_key is not None:
        raise ConfigError(
            "bedrock signs its requests with AWS credentials (aws_access_key_id...), not an api_key",
            source=source,
            path=f"{where}.api_key",
        )


def _validate_azure(where: str, provider: ProviderConfig, source: str) -> None:
    if provider.api_version is None:
        raise ConfigError(
            "an azure provider needs its api_version (like 2024-10-21, or v1)",
            source=source,
            path=f"{where}.api_version",
        )
    if not _API_VERSION.fullmatch(provider.api_version):
        raise ConfigError(
            "not an Azure OpenAI API version (YYYY-MM-DD, YYYY-MM-DD-preview or v1)",
            source=source,
            path=f"{where}.api_version",
        )
    if provider.api_key is not None and provider.azure_ad_token is not None:
        raise ConfigError(
            "use either api_key or azure_ad_token, not both", source=source, path=f"{where}.azure_ad_token"
        )
    for model, deployment in provider.deployments.items():
        if not _NAME.fullmatch(deployment):
            raise ConfigError(
                "not a deployment name (letters, digits, '.', '_', '-')",
                source=source,
                path=f"{where}.deployments.{model}",
            )
    if provider.base_url is None:
        raise ConfigError(
            "an azure provider needs its resource's base_url (https://NAME.openai.azure.com)",
            source=source,
            path=f"{where}.base_url",
        )
