"""The sticky-routing session key: a session header first, else Anthropic's `metadata.user_id`, else none."""

from __future__ import annotations

import pytest

from lunaroute.routing._sticky import session_key_for

USER_BODY = b'{"model":"m","metadata":{"user_id":"user_1"},"messages":[]}'


@pytest.mark.parametrize("name", ["session_id", "session-id", "x-session-id"])
def test_each_session_header_is_the_key(name: str) -> None:
    assert session_key_for([("accept", "*/*"), (name, "conv-7")], b"{}") == "conv-7"
    # The header wins over the body's user id.
    assert session_key_for([(name, "conv-7")], USER_BODY) == "conv-7"


def test_the_anthropic_user_id_is_the_key_without_a_header() -> None:
    assert session_key_for([("accept", "*/*")], USER_BODY) == "user_1"
    assert session_key_for([("session_id", "")], USER_BODY) == "user_1"  # an empty header is no session


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"metadata":null}', b'{"metadata":{}}', b'{"metadata":{"user_id":""}}', b'{"metadata":', b"[]"],
)
def test_no_key_without_a_session(body: bytes) -> None:
    assert session_key_for([("x-other", "v")], body) is None
