"""`session_recording.pii` (the Rust LunaRoute's section) on the redaction filter: detectors, confidence, modes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.recording import RequestRecorded, read_session_file
from lunaroute.recording._pii import build_pii_redactor
from lunaroute.recording._redact import Redactor
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import FakeUpstream, GatewayFactory

TEXT = "mail ann@example.com, card 4111 1111 1111 1111, ssn 123-45-6789, ip 10.1.2.3, call +1 415 555 0100"


def redactor(**pii: Any) -> Redactor:
    config = config_from_mapping({"session_recording": {"pii": {"enabled": True, **pii}}}, env={})
    built = build_pii_redactor(config.session_recording.pii)
    assert built is not None
    return built


def rfc5869_token(secret: str, text: str, prefix: str) -> str:
    """The Rust redactor's token, computed here independently (HKDF per RFC 5869, then HMAC-SHA256)."""
    prk = hmac.new(b"lunaroute-pii-redaction-v1", secret.encode(), hashlib.sha256).digest()
    key = hmac.new(prk, b"hmac-tokenization-key\x01", hashlib.sha256).digest()
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return f"[{prefix}:{base64.b64encode(digest).decode()[:16]}]"


def test_mask_labels_each_kind() -> None:
    assert redactor().text(TEXT) == ("mail [EMAIL], card [CREDIT_CARD], ssn [SSN], ip [IP_ADDRESS], call [PHONE]")


def test_remove_and_partial() -> None:
    assert redactor(redaction_mode="remove").text("to ann@example.com now") == "to  now"
    assert redactor(redaction_mode="partial", partial_show_chars=4).text("ssn 123-45-6789") == "ssn *******6789"


def test_tokenize_matches_the_rust_tokens() -> None:
    red = redactor(redaction_mode="tokenize", hmac_secret="s3cret")
    assert red.text("to ann@example.com") == "to " + rfc5869_token("s3cret", "ann@example.com", "EM")
    assert red.text("ssn 123-45-6789") == "ssn " + rfc5869_token("s3cret", "123-45-6789", "SSN")


def test_detect_flags_and_min_confidence() -> None:
    assert redactor(detect_email=False).text("ann@example.com") == "ann@example.com"
    # Phone detection (0.8) is below 0.85; email (0.95) is not.
    assert redactor(min_confidence=0.85).text("ann@example.com +1 415 555 0100") == "[EMAIL] +1 415 555 0100"


def test_custom_patterns_mask_with_their_placeholder_or_tokenize() -> None:
    key = "sk-" + "a" * 32
    patterns = [
        {"name": "api_key", "pattern": "sk-[a-zA-Z0-9]{32}", "confidence": 0.95, "placeholder": "[API_KEY]"},
        {"name": "ticket", "pattern": "TCK-[0-9]+", "redaction_mode": "tokenize"},
        {"name": "weak", "pattern": "maybe-[0-9]+", "confidence": 0.5},
    ]
    red = redactor(custom_patterns=patterns, hmac_secret="s")
    assert red.text(f"key {key}") == "key [API_KEY]"
    assert red.text("TCK-42") == rfc5869_token("s", "TCK-42", "CUS:ticket")
    assert red.text("maybe-7") == "maybe-7"


@pytest.mark.parametrize(
    ("pii", "where"),
    [
        ({"redaction_mode": "tokenize"}, "hmac_secret"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"custom_patterns": [{"name": "x", "pattern": "("}]}, r"custom_patterns\[0\]\.pattern"),
    ],
)
def test_bad_sections_are_refused(pii: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        config_from_mapping({"session_recording": {"pii": {"enabled": True, **pii}}}, env={})


def test_pii_and_redaction_together_are_refused() -> None:
    raw = {"session_recording": {"pii": {"enabled": True}, "redaction": {"enabled": True}}}
    with pytest.raises(ConfigError, match="not both"):
        config_from_mapping(raw, env={})


async def test_pii_reaches_the_recorded_sessions(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"enabled": False},
            "journal_directory": str(tmp_path / "journal"),
            "pii": {"enabled": True, "redaction_mode": "tokenize", "hmac_secret": "${PII_SECRET}"},
        },
        env={"PII_SECRET": "team-secret"},
    )
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "mail ann@example.com"}]}
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{gateway.url}/v1/chat/completions", json=body, headers={"session_id": "sess-pii"}
        ) as response:
            assert response.status == 200
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    [path] = (tmp_path / "sessions").rglob("sess-pii.jsonl")
    assert "ann@example.com" not in path.read_text()
    [request] = [e for e in read_session_file(path).events if isinstance(e, RequestRecorded)]
    assert request.request_text == "mail " + rfc5869_token("team-secret", "ann@example.com", "EM")
    assert upstream.last_request.json()["messages"][0]["content"] == "mail ann@example.com"
