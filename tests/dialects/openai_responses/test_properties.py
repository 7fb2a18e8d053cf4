"""Invariants of the Responses API codec: round trips, stream == non-stream, chunking, decode never crashes."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunaroute import model as m
from lunaroute.dialects import openai_responses as codec
from lunaroute.errors import InvalidRequest
from model.strategies import responses_request, responses_response

SETTINGS = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(responses_request())
def test_request_round_trip_keeps_every_field(req: m.Request) -> None:
    decoded = codec.decode_request(codec.encode_request(req, model_name=req.model))
    # A request of no dialect's own is sent stateless and asks for reasoning it can give back: those keys are
    # the encoder's additions, kept as extras when read again.
    assert decoded.extra is None or set(decoded.extra.fields) <= {"store", "include", "reasoning"}
    assert msgspec.structs.replace(decoded, extra=None) == req


@SETTINGS
@given(responses_response())
def test_response_round_trip(resp: m.Response) -> None:
    assert codec.decode_response(codec.encode_response(resp)) == resp


def _stream_bytes(resp: m.Response) -> bytes:
    encoder = codec.StreamEncoder(model_name=None, created=resp.created)
    return b"".join(encoder.encode(e) for e in m.stream_events(resp)) + encoder.finish()


def _decode_all(chunks: list[bytes]) -> list[m.StreamEvent]:
    decoder = codec.StreamDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.finish()


@SETTINGS
@given(responses_response())
def test_accumulated_stream_equals_non_stream(resp: m.Response) -> None:
    streamed = m.accumulate(_decode_all([_stream_bytes(resp)]))
    assert streamed == codec.decode_response(codec.encode_response(resp))


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@SETTINGS
@given(responses_response(), st.lists(st.integers(0, 10**6), max_size=30))
def test_rechunking_never_changes_events_or_client_bytes(resp: m.Response, cuts: list[int]) -> None:
    data = _stream_bytes(resp)
    whole = _decode_all([data])
    pieces = _decode_all(_split(data, cuts))
    assert pieces == whole

    def client(events: list[m.StreamEvent]) -> bytes:
        encoder = codec.StreamEncoder(model_name="x", response_id="resp_x", created=1)
        return b"".join(encoder.encode(e) for e in events) + encoder.finish()

    assert client(pieces) == client(whole)


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_decode_request_raises_only_invalid_request_on_bytes(body: bytes) -> None:
    try:
        codec.decode_request(body)
    except InvalidRequest:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "model",
                    "input",
                    "instructions",
                    "max_output_tokens",
                    "role",
                    "content",
                    "type",
                    "text",
                    "tools",
                    "tool_choice",
                    "name",
                    "arguments",
                    "call_id",
                    "output",
                    "summary",
                    "encrypted_content",
                    "image_url",
                    "file_data",
                    "file_id",
                    "reasoning",
                    "effort",
                    "format",
                    "schema",
                    "temperature",
                    "parameters",
                ]
            )
            | st.text(max_size=5),
            c,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, database=None)
@given(json_values)
def test_decode_request_raises_only_invalid_request_on_json(value: object) -> None:
    try:
        codec.decode_request(msgspec.json.encode(value))
    except InvalidRequest:
        pass


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_stream_decoder_never_raises(chunks: list[bytes]) -> None:
    events = _decode_all(chunks)
    assert isinstance(events[-1], m.StreamError | m.MessageStop)
