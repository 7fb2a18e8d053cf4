"""Header hygiene: hop-by-hop, credentials, templates."""

from __future__ import annotations

import pytest

from lunaroute.providers._headers import (
    apply_credentials,
    forward_request_headers,
    forward_response_headers,
    render_template,
)


def test_request_headers_drop_hop_by_hop_host_length_and_internal() -> None:
    headers = [
        ("host", "gw"),
        ("content-length", "10"),
        ("connection", "keep-alive, x-private"),
        ("x-private", "1"),
        ("transfer-encoding", "chunked"),
        ("x-lunaroute-provider", "a"),
        ("anthropic-beta", "b1"),
        ("anthropic-beta", "b2"),
        ("accept-encoding", "gzip"),
    ]
    out = forward_request_headers(headers, stream=False)
    assert out == [("anthropic-beta", "b1"), ("anthropic-beta", "b2"), ("accept-encoding", "gzip")]
    streamed = forward_request_headers(headers, stream=True)
    assert ("accept-encoding", "identity") in streamed
    assert ("accept-encoding", "gzip") not in streamed


def test_response_headers() -> None:
    out = forward_response_headers(
        [("content-length", "5"), ("keep-alive", "x"), ("x-request-id", "r"), ("set-cookie", "a"), ("set-cookie", "b")]
    )
    assert out == [("x-request-id", "r"), ("set-cookie", "a"), ("set-cookie", "b")]


def test_client_credentials_forwarded_without_server_key() -> None:
    headers = [("x-api-key", "client"), ("authorization", "Bearer client")]
    assert apply_credentials(headers, api_key=None, style="anthropic") == headers


def test_server_key_replaces_both_client_headers() -> None:
    headers = [("x-api-key", "client"), ("authorization", "Bearer client"), ("accept", "*/*")]
    assert apply_credentials(headers, api_key="srv", style="anthropic") == [("accept", "*/*"), ("x-api-key", "srv")]
    assert apply_credentials(headers, api_key="srv", style="openai") == [
        ("accept", "*/*"),
        ("authorization", "Bearer srv"),
    ]


def test_render_template() -> None:
    env = {"USER": "ana", "MY_API_KEY": "secret"}
    variables = {"request_id": "r1", "model": "m"}
    assert render_template("${request_id}/${model}/${env.USER}", variables, env) == "r1/m/ana"
    assert render_template("${env.MY_API_KEY}", variables, env) == ""
    assert render_template("$${x} ${unknown}", variables, env) == "${x} "
    assert render_template("a\r\nb", variables, env) == "ab"


@pytest.mark.parametrize(
    ("offered", "sent"),
    [
        ("gzip, deflate, br", "gzip, deflate"),
        ("br", "identity"),
        ("br;q=1.0, zstd;q=0.5, gzip;q=0.2", "zstd;q=0.5, gzip;q=0.2"),
        ("GZIP", "GZIP"),
        ("*", "identity"),
        ("identity", "identity"),
    ],
)
def test_only_codings_the_gateway_can_undo_are_offered_upstream(offered: str, sent: str) -> None:
    """An answer in a coding the gateway cannot read (brotli) could be neither scrubbed nor recorded."""
    assert forward_request_headers([("accept-encoding", offered)], stream=False) == [("accept-encoding", sent)]
