"""The strict JSON reader's nesting bound: the cheap bracket count never lets a too-deep body through."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunaroute.dialects._json import MAX_DEPTH, _depth, parse_json
from lunaroute.errors import InvalidRequest


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert parse_json(_nested(MAX_DEPTH), InvalidRequest) is not None
    assert parse_json(b'{"a":' + _nested(MAX_DEPTH - 1) + b"}", InvalidRequest) is not None


def test_nesting_past_the_limit_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="nesting"):
        parse_json(_nested(MAX_DEPTH + 1), InvalidRequest)
    with pytest.raises(InvalidRequest, match="nesting"):
        parse_json(b'{"a":' + _nested(MAX_DEPTH) + b"}", InvalidRequest)


def test_brackets_inside_strings_do_not_count() -> None:
    body = b'{"a":"' + b"[{" * 200 + b'","b":' + _nested(10) + b"}"
    assert parse_json(body, InvalidRequest) == {"a": "[{" * 200, "b": msgspec.json.decode(_nested(10))}


_LEAVES = st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=8)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="[]{}ab", max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


@given(_JSON, st.integers(min_value=0, max_value=2 * MAX_DEPTH), st.integers(min_value=0, max_value=MAX_DEPTH))
def test_accepts_exactly_what_the_depth_scan_accepts(value: object, deep: int, siblings: int) -> None:
    body = b"[" * (deep + 1) + msgspec.json.encode(value) + b",[]" * siblings + b"]" * (deep + 1)
    if _depth(body) > MAX_DEPTH:
        with pytest.raises(InvalidRequest, match="nesting"):
            parse_json(body, InvalidRequest)
    else:
        assert parse_json(body, InvalidRequest) == msgspec.json.decode(body)
