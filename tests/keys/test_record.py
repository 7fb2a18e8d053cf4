"""The key record's pure parts: secrets, digests, scopes, durations, status."""

from __future__ import annotations

import pytest

from lunaroute.keys import (
    KeyRecord,
    digest_of,
    display_prefix,
    endpoint_allowed,
    looks_like_key,
    model_allowed,
    parse_duration,
)
from lunaroute.keys._record import new_secret


def test_secret_shape_and_entropy() -> None:
    secrets = {new_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert secret.startswith("lr-")
        assert len(secret) == 3 + 43  # 32 bytes in URL-safe base64, unpadded
        assert looks_like_key(secret)
    assert not looks_like_key("sk-abc")
    assert not looks_like_key("lr-short")


def test_digest_is_sha256_hex_and_prefix_is_short() -> None:
    secret = "lr-" + "A" * 43
    assert digest_of(secret) == "e69ddd630aa1970336c4c569f8c9e87bccc3c3dddb146430393f53334d8a148e"
    assert digest_of(secret) != digest_of(secret[:-1] + "B")
    assert display_prefix(secret) == "lr-AAAAAAAA"


def _key(**fields: object) -> KeyRecord:
    return KeyRecord(id="key_0123456789abcdef", name="k", prefix="lr-x", **fields)  # type: ignore[arg-type]


def test_model_patterns() -> None:
    assert model_allowed(_key(), "anything")
    scoped = _key(models=["gpt-4o*", "claude-3-5-haiku-*"])
    assert model_allowed(scoped, "gpt-4o")
    assert model_allowed(scoped, "gpt-4o-mini")
    assert model_allowed(scoped, "claude-3-5-haiku-20241022")
    assert not model_allowed(scoped, "gpt-4")
    assert not model_allowed(scoped, "claude-opus-4")
    assert not model_allowed(scoped, "GPT-4O")  # case matters: model ids are case-sensitive
    assert model_allowed(scoped, None)  # judged by the endpoint scope alone


def test_endpoint_patterns_match_with_and_without_v1() -> None:
    assert endpoint_allowed(_key(), "/v1/chat/completions")
    embeddings = _key(endpoints=["/v1/embeddings"])
    assert endpoint_allowed(embeddings, "/v1/embeddings")
    assert not endpoint_allowed(embeddings, "/v1/chat/completions")
    responses = _key(endpoints=["/v1/responses", "/v1/models"])
    assert endpoint_allowed(responses, "/responses")
    assert endpoint_allowed(responses, "/models")
    assert not endpoint_allowed(responses, "/v1/messages")
    wildcard = _key(endpoints=["/v1/messages*"])
    assert endpoint_allowed(wildcard, "/v1/messages/count_tokens")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("12h", 43200), ("30d", 2592000), ("2w", 1209600), ("90", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="could not convert"):
        parse_duration("soon")


def test_status() -> None:
    assert _key().status(100.0) == "active"
    assert _key(expires_at=100.0).status(99.0) == "active"
    assert _key(expires_at=100.0).status(100.0) == "expired"
    assert _key(expires_at=100.0, revoked_at=50.0).status(10.0) == "revoked"
