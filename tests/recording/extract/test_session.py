"""Session ids: Anthropic `metadata.user_id` shapes, the session headers, the per-request fallback."""

from __future__ import annotations

import json

import pytest

from lunaroute.recording.extract import explicit_session_id, session_id_for
from lunaroute.types import Endpoint

from ._records import body, exchange

SID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def _anthropic(user_id: object, headers: list[tuple[str, str]] | None = None, request_id: str = "req_1") -> str:
    request = body({"model": "m", "messages": [], "metadata": {"user_id": user_id}})
    return session_id_for(
        exchange(Endpoint.ANTHROPIC_MESSAGES, request, request_headers=headers, request_id=request_id)
    )


def test_object_shape() -> None:
    assert _anthropic({"device_id": "d", "session_id": SID}) == SID


def test_json_encoded_string_shape() -> None:
    user_id = json.dumps({"device_id": "abc", "account_uuid": "", "session_id": SID})
    assert _anthropic(user_id) == SID


def test_legacy_flat_shape() -> None:
    assert _anthropic(f"user_2f1b_account_7c3e9a1b-4d2f_session_{SID}") == SID


def test_claude_code_fixture() -> None:
    from ._records import fixture

    record = exchange(Endpoint.ANTHROPIC_MESSAGES, fixture("anthropic_messages/request_claude_code.json"))
    assert session_id_for(record) == "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


@pytest.mark.parametrize(
    "user_id",
    [
        {"session_id": "../../etc/passwd"},
        json.dumps({"session_id": "a b"}),
        "user_x_session_" + "a" * 256,
        "user_x_session_",
        "{not json",
        "plain-user-id",  # a user id is not a session
        12,
        None,
    ],
)
def test_invalid_or_absent_falls_through_to_request_id(user_id: object) -> None:
    assert _anthropic(user_id) == "req_1"


def test_invalid_user_id_falls_through_to_header() -> None:
    assert _anthropic({"session_id": "bad/id"}, headers=[("x-session-id", "hdr-1")]) == "hdr-1"


@pytest.mark.parametrize("name", ["session_id", "session-id", "x-session-id"])
def test_codex_headers(name: str) -> None:
    record = exchange(Endpoint.OPENAI_RESPONSES, body({"model": "gpt-5"}), request_headers=[(name, "0199a1b2-c3d4")])
    assert session_id_for(record) == "0199a1b2-c3d4"
    assert explicit_session_id(record) == "0199a1b2-c3d4"


def test_header_order_and_validation() -> None:
    headers = [("x-session-id", "third"), ("session-id", "bad id"), ("session_id", "")]
    record = exchange(Endpoint.OPENAI_CHAT, b"{}", request_headers=headers)
    assert session_id_for(record) == "third"


def test_body_wins_over_header() -> None:
    assert _anthropic({"session_id": SID}, headers=[("session_id", "other")]) == SID


def test_fallback_is_the_request_id_made_safe() -> None:
    record = exchange(Endpoint.OPENAI_CHAT, b"not json", request_id="req/1 2")
    assert explicit_session_id(record) is None
    assert session_id_for(record) == "req12"
    assert session_id_for(exchange(Endpoint.OPENAI_CHAT, b"", request_id="///")) == "request"
