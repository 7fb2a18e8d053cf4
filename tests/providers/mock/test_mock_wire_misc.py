"""Errors, count_tokens, models, embeddings and the SSE helpers."""

from __future__ import annotations

import base64
import json
import math
import struct

from hypothesis import given
from hypothesis import strategies as st

from lunaroute.providers.mock import _wire as wire


def test_openai_error_body() -> None:
    body = json.loads(wire.openai_error("Slow down", "rate_limit_error", code="rate_limit_exceeded"))
    assert body == {
        "error": {"message": "Slow down", "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}
    }


def test_anthropic_error_body_and_stream_error() -> None:
    assert json.loads(wire.anthropic_error("overloaded_error", "Overloaded")) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    event = wire.anthropic_stream_error("overloaded_error", "Overloaded")
    assert event.startswith(b"event: error\ndata: {")
    assert event.endswith(b"\n\n")


def test_openai_stream_errors() -> None:
    chat = wire.openai_stream_error("boom")
    assert chat.startswith(b"data: {")
    assert json.loads(chat[6:])["error"]["message"] == "boom"
    responses = wire.responses_stream_error("boom", sequence_number=3)
    assert responses.startswith(b"event: error\n")
    payload = json.loads(responses.split(b"data: ", 1)[1])
    assert payload == {"type": "error", "code": "server_error", "message": "boom", "param": None, "sequence_number": 3}


def test_default_error_types_follow_each_api() -> None:
    assert wire.default_error_type("anthropic", 529) == "overloaded_error"
    assert wire.default_error_type("anthropic", 404) == "not_found_error"
    assert wire.default_error_type("anthropic", 500) == "api_error"
    assert wire.default_error_type("openai", 429) == "rate_limit_error"
    assert wire.default_error_type("openai", 503) == "server_error"
    assert wire.default_error_type("openai", 404) == "invalid_request_error"


def test_count_tokens_and_models() -> None:
    assert json.loads(wire.render_count_tokens(42)) == {"input_tokens": 42}
    models = json.loads(wire.render_models(["a", "b"]))
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["a", "b"]
    assert all(m["object"] == "model" for m in models["data"])


def test_embeddings_are_deterministic_unit_vectors() -> None:
    body = json.loads(wire.render_embeddings(["a", "b", "a"], model="emb", dimensions=12, prompt_tokens=3))
    vectors = [item["embedding"] for item in body["data"]]
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert vectors[0] == vectors[2] != vectors[1]
    assert len(vectors[0]) == 12
    assert math.isclose(sum(v * v for v in vectors[0]), 1.0, rel_tol=1e-9)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_embeddings_base64_is_little_endian_float32() -> None:
    body = json.loads(wire.render_embeddings(["a"], model="emb", dimensions=4, encoding_format="base64"))
    raw = base64.b64decode(body["data"][0]["embedding"])
    decoded = struct.unpack("<4f", raw)
    expected = wire.embedding_vector("a", 4)
    assert all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(decoded, expected, strict=True))


@given(st.text(), st.integers(min_value=-3, max_value=50))
def test_split_text_joins_back_and_respects_the_piece_count(text: str, pieces: int) -> None:
    parts = wire.split_text(text, pieces)
    assert "".join(parts) == text
    assert all(parts)
    assert len(parts) <= max(1, pieces)
    if text:
        assert len(parts) == min(max(1, pieces), len(text))


def test_sse_framing() -> None:
    assert wire.sse({"a": 1}) == b'data: {"a":1}\n\n'
    assert wire.sse({"a": 1}, "x") == b'event: x\ndata: {"a":1}\n\n'
