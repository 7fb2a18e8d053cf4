"""Config of the Google providers: `gemini` and `vertex` defaults, and the Vertex-only keys checked strictly."""

from __future__ import annotations

from typing import Any

import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError


def providers(**entries: dict[str, Any]) -> dict[str, Any]:
    return config_from_mapping({"providers": entries}, env={}).providers


def test_gemini_defaults_to_the_public_api() -> None:
    gem = providers(gem={"provider_type": "gemini", "api_key": "k"})["gem"]
    assert gem.base_url == "https://generativelanguage.googleapis.com"


def test_vertex_base_url_follows_the_location() -> None:
    loaded = providers(
        regional={"provider_type": "vertex", "project": "acme", "location": "europe-west4"},
        worldwide={"provider_type": "vertex", "project": "acme", "credentials_file": "~/sa.json"},
        local={"provider_type": "vertex", "project": "acme", "base_url": "http://127.0.0.1:9/"},
    )
    assert loaded["regional"].base_url == "https://europe-west4-aiplatform.googleapis.com"
    assert loaded["worldwide"].base_url == "https://aiplatform.googleapis.com"
    assert not loaded["worldwide"].credentials_file.startswith("~")  # type: ignore[union-attr]
    assert loaded["local"].base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("entry", "path", "reason"),
    [
        ({"provider_type": "vertex"}, "project", "is required"),
        ({"provider_type": "vertex", "project": "Acme Corp"}, "project", "not a valid Google Cloud name"),
        ({"provider_type": "vertex", "project": "a", "location": "us/east"}, "location", "not a valid"),
        ({"provider_type": "vertex", "project": "a", "api_key": "k"}, "api_key", "credentials_file"),
        ({"provider_type": "gemini", "project": "a"}, "project", "vertex providers only"),
        ({"provider_type": "openai", "credentials_file": "x"}, "credentials_file", "vertex providers only"),
        ({"provider_type": "gemini", "publisher": "google"}, "publisher", "vertex providers only"),
    ],
)
def test_bad_google_settings(entry: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as error:
        providers(p=entry)
    assert error.value.path == f"$.providers.p.{path}"


def test_publisher_is_strict() -> None:
    with pytest.raises(ConfigError, match="publisher"):
        providers(p={"provider_type": "vertex", "project": "a", "publisher": "meta"})
