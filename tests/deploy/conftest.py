"""The image the container tests run: built once per test run from the project's Dockerfile, removed after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.deploy._podman import build_image, ensure_base, podman


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    ensure_base()
    tag = build_image()
    yield tag
    podman("rmi", "-f", tag, check=False)
