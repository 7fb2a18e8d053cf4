"""The model listing cut to a key's model patterns, in both dialects' shapes."""

from __future__ import annotations

import json

from lunaroute.keys import KeyRecord
from lunaroute.policies import filter_listing

KEY = KeyRecord(id="key_0123456789abcdef", name="k", prefix="lr-x", models=["claude-*-haiku-*"])


def test_anthropic_listing_keeps_its_paging_fields_true() -> None:
    body = {
        "data": [
            {"id": "claude-opus-4-1", "type": "model", "display_name": "Opus"},
            {"id": "claude-3-5-haiku-20241022", "type": "model", "display_name": "Haiku"},
        ],
        "has_more": False,
        "first_id": "claude-opus-4-1",
        "last_id": "claude-3-5-haiku-20241022",
    }
    out = json.loads(filter_listing(json.dumps(body).encode(), KEY) or b"")
    assert out == {
        "data": [{"id": "claude-3-5-haiku-20241022", "type": "model", "display_name": "Haiku"}],
        "has_more": False,
        "first_id": "claude-3-5-haiku-20241022",
        "last_id": "claude-3-5-haiku-20241022",
    }


def test_nothing_allowed_gives_an_empty_page() -> None:
    body = {"object": "list", "data": [{"id": "gpt-4o"}]}
    assert json.loads(filter_listing(json.dumps(body).encode(), KEY) or b"") == {"object": "list", "data": []}


def test_what_is_not_a_listing_is_left_alone() -> None:
    assert filter_listing(b"not json", KEY) is None
    assert filter_listing(b'{"error": {"message": "x"}}', KEY) is None
    assert filter_listing(b"[1, 2]", KEY) is None
