"""What the passthrough path reads from a body, and what it refuses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunaroute.dialects.passthrough import inspect_body, rewrite_model
from lunaroute.errors import InvalidRequest
from lunaroute.types import Endpoint

CHAT = Endpoint.OPENAI_CHAT


def test_model_and_stream() -> None:
    body = b'{"model":"gpt","stream":true,"messages":[]}'
    assert inspect_body(CHAT, body) == ("gpt", True, body)
    assert inspect_body(CHAT, b'{"model":"gpt"}')[:2] == ("gpt", False)
    assert inspect_body(Endpoint.OPENAI_EMBEDDINGS, b'{"input":"x"}')[:2] == (None, False)


def test_override_fields_are_taken_out_and_the_rest_kept_byte_for_byte() -> None:
    body = (
        b'{"model":"m","api_key":"sk-body-secret","messages":[{"role":"user","content":"h\\u00e9"}],'
        b'"base_url":"http://169.254.169.254/","extra_headers":{"x":"y"},"custom_llm_provider":"x","user":"u"}'
    )
    model, _, forwarded = inspect_body(CHAT, body)
    assert model == "m"
    assert json.loads(forwarded) == {"model": "m", "messages": [{"role": "user", "content": "hé"}], "user": "u"}
    assert b'"content":"h\\u00e9"' in forwarded
    assert b"sk-body-secret" not in forwarded
    clean = b'{"model":"m","metadata":{"api_key":"nested values are the client own"}}'
    assert inspect_body(CHAT, clean)[2] is clean


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"", None),
        (b'{"model":', None),
        (b"\xff\xfe", None),
        (b"[1]", None),
        (b'{"model": 5}', "model"),
        (b'{"model":"gpt","stream":"yes"}', "stream"),
        (b'{"messages":[]}', "model"),
        (b'{"model":"gpt-4o\\r\\nX-Evil: 1"}', "model"),
        (b'{"model":""}', "model"),
        (b'{"model":"cheap","x":1,"model":"expensive"}', "model"),
        (b'{"messages":[],"model":"cheap","model":"expensive"}', "model"),
        (b'{"model":"m","stream":false,"messages":[],"stream":true}', "model"),
        (b'{"model":"m","max_tokens":NaN}', None),
        (b'{"a":' * 100_000, None),
    ],
)
def test_refused(body: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        inspect_body(CHAT, body)
    assert info.value.param == param


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        (b'{"model":"m","messages":[{"content":"ok \xff\xfe"}]}', None, "UTF-8"),
        (b'{"model":"m","messages":[{"content":"\xed\xa0\x80"}]}', None, "UTF-8"),  # a surrogate, raw
        (b'{"model":"m","messages":[{"content":"\xc0\x80"}]}', None, "UTF-8"),  # an overlong NUL
        (b'{"model":"m","max_tokens":1e999999}', "max_tokens", "out of range"),
        (b'{"model":"m","tools":[{"input_schema":{"minimum":-1e400}}]}', "tools", "out of range"),
        (b'{"model":"m","max_tokens":' + b"9" * 5000 + b"}", "max_tokens", "out of range"),
        (b'{"model":"m","temperature":Infinity}', None, "not valid JSON"),
        (b'{"model":[2e308],"model":"n\xfe"}', None, "out of range"),  # found by the fuzzer: two faults
    ],
)
def test_refuses_what_no_provider_accepts(body: bytes, param: str | None, says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        inspect_body(CHAT, body)
    assert info.value.param == param
    assert says in info.value.message


def test_large_but_valid_numbers_and_non_ascii_text_pass() -> None:
    body = '{"model":"m","max_tokens":1e308,"seed":18446744073709551615,"messages":[{"content":"héllo 😀"}]}'
    assert inspect_body(CHAT, body.encode())[:2] == ("m", False)


def test_nested_model_keys_are_not_duplicates() -> None:
    body = b'{"model":"m","metadata":{"model":"other"},"tools":[{"model":1}]}'
    assert inspect_body(CHAT, body)[:2] == ("m", False)


@given(st.binary(max_size=200))
def test_any_bytes_give_a_result_or_invalid_request(body: bytes) -> None:
    try:
        inspect_body(CHAT, body)
    except InvalidRequest:
        pass


def test_rewrite_model_keeps_every_other_value_byte_for_byte() -> None:
    original = b'{"model": "a", "messages": [{"role":"user","content":"h\\u00e9 \\ud83d\\ude00"}], "x": 1.50}'
    out = rewrite_model(original, "b")
    assert json.loads(out)["model"] == "b"
    assert b'[{"role":"user","content":"h\\u00e9 \\ud83d\\ude00"}]' in out
    assert b"1.50" in out
