"""Invariants of the Converse decoders: a streamed answer assembles to the same response as the same answer sent
as JSON, whatever the chunking of the event stream."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from lunaroute import model as m
from lunaroute.dialects import bedrock_converse
from lunaroute.testing import Answer, ToolCall, Usage, converse_body

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_ARGS = st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=8), max_size=3)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    calls = tuple(
        ToolCall(name=f"tool_{i}", arguments=json.dumps(args), id=f"tooluse_{i}")
        for i, args in enumerate(draw(st.lists(_ARGS, max_size=2)))
    )
    thinking = draw(st.none() | _TEXT.filter(bool))
    return Answer(
        text=draw(_TEXT),
        thinking=thinking,
        thinking_signature=draw(st.text(min_size=1, max_size=10)) if thinking else None,
        tool_calls=calls,
        usage=Usage(input_tokens=draw(st.integers(0, 10_000)), output_tokens=draw(st.integers(0, 10_000))),
    )


def _without_id(response: m.Response) -> m.Response:
    return msgspec.structs.replace(response, id="")


@settings(max_examples=80, deadline=None)
@given(answers(), st.integers(1, 6), st.lists(st.integers(0, 5000), max_size=8))
def test_stream_assembles_to_the_json_answer(answer: Answer, pieces: int, cuts: list[int]) -> None:
    whole = bedrock_converse.decode_response(converse_body(answer, stream=False))
    data = converse_body(answer, stream=True, pieces=pieces)
    decoder = bedrock_converse.StreamDecoder()
    events: list[m.StreamEvent] = []
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        events += decoder.feed(data[start:cut])
        start = cut
    events += decoder.feed(data[start:]) + decoder.finish()
    assert not any(isinstance(e, m.StreamError) for e in events)
    assert _without_id(m.accumulate(events)) == _without_id(whole)
