"""The pure half of the fake upstream: which endpoint a path is and what bytes a reply plans to send."""

from __future__ import annotations

import json
import zlib

import pytest

from lunaroute.testing import Reply
from lunaroute.testing._plan import Plan, classify, plan_reply
from lunaroute.types import Endpoint

STREAM = json.dumps({"model": "m", "stream": True}).encode()


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        ("POST", "/v1/chat/completions", Endpoint.OPENAI_CHAT),
        ("POST", "/chat/completions", Endpoint.OPENAI_CHAT),
        ("POST", "/v1/completions", Endpoint.OPENAI_COMPLETIONS),
        ("POST", "/v1/responses", Endpoint.OPENAI_RESPONSES),
        ("GET", "/v1/models", Endpoint.OPENAI_MODELS),
        ("POST", "/v1/embeddings", Endpoint.OPENAI_EMBEDDINGS),
        ("POST", "/v1/messages", Endpoint.ANTHROPIC_MESSAGES),
        ("POST", "/v1/messages/count_tokens", Endpoint.ANTHROPIC_COUNT_TOKENS),
        ("GET", "/v1/chat/completions", None),
        ("POST", "/v1/files", None),
    ],
)
def test_classify(method: str, path: str, endpoint: Endpoint | None) -> None:
    assert classify(method, path) is endpoint


def _plan(reply: Reply, path: str = "/v1/chat/completions", headers: list[tuple[str, str]] | None = None) -> Plan:
    return plan_reply(reply, "POST", path, "", headers or [], STREAM)


def test_mid_stream_error_in_each_dialect() -> None:
    chat = _plan(Reply(error_after_chunks=1))
    assert chat.chunks[-1].startswith(b'data: {"error":')
    messages = _plan(Reply(error_after_chunks=1), "/v1/messages")
    assert messages.chunks[-1].startswith(b"event: error\n")
    responses = _plan(Reply(error_after_chunks=2), "/v1/responses")
    assert json.loads(responses.chunks[-1].split(b"data: ")[1])["sequence_number"] == 2
    assert len(chat.chunks) == 2


def test_error_dialect_follows_the_anthropic_version_header_on_other_paths() -> None:
    plan = _plan(Reply(status=401), "/v1/models", [("anthropic-version", "2023-06-01")])
    assert json.loads(plan.chunks[0])["type"] == "error"
    assert not plan.chunked


def test_reply_headers_replace_defaults_case_insensitively() -> None:
    plan = _plan(Reply(headers={"content-type": "application/x-ndjson", "X-Extra": "1"}))
    names = [name.lower() for name, _ in plan.headers]
    assert names.count("content-type") == 1
    assert ("content-type", "application/x-ndjson") in plan.headers
    assert ("X-Extra", "1") in plan.headers


def test_gzip_chunks_form_one_member() -> None:
    plan = _plan(Reply(gzip=True))
    assert ("Content-Encoding", "gzip") in plan.headers
    decoder = zlib.decompressobj(wbits=31)
    plain = b"".join(decoder.decompress(chunk) for chunk in plan.chunks)
    assert decoder.eof
    assert plain.endswith(b"data: [DONE]\n\n")


def test_raw_chunks_with_a_json_request_are_not_chunked() -> None:
    plan = plan_reply(Reply(raw_chunks=[b"{", b"}"]), "POST", "/v1/chat/completions", "", [], b'{"model": "m"}')
    assert plan.chunks == [b"{", b"}"]
    assert not plan.chunked
