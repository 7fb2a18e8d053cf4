"""The plain-chat input estimate answers only where it equals the codec's, and answers for plain requests."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunaroute.dialects import openai_chat
from lunaroute.errors import LunaRouteError
from lunaroute.model import estimate_input_tokens
from lunaroute.recording.extract._chat_estimate import plain_chat_estimate

from .test_fuzz import json_values


def _codec(body: bytes) -> int | None:
    try:
        return estimate_input_tokens(openai_chat.decode_request(body))
    except LunaRouteError:
        return None


odd = st.none() | st.booleans() | st.integers(-3, 5) | st.floats(-3, 3) | st.text(max_size=6) | st.just([])


def mostly(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """`valid` seven times in eight, else an odd value (wrong type, out of range, null)."""
    return st.integers(0, 7).flatmap(lambda k: valid if k else odd)


texts = st.text(max_size=40) | st.sampled_from(["", " ", "é" * 9, "x" * 41])
parts = mostly(st.fixed_dictionaries({"type": mostly(st.just("text")), "text": mostly(texts)}))
contents = mostly(texts | st.lists(parts, max_size=3))
roles = mostly(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))
messages = st.fixed_dictionaries(
    {"role": roles, "content": contents},
    optional={"name": mostly(st.text(max_size=5)), "tool_calls": st.just([]) | odd, "refusal": odd},
)
options = {
    "max_tokens": mostly(st.integers(0, 9)),
    "max_completion_tokens": mostly(st.integers(0, 9)),
    "n": mostly(st.integers(0, 2)),
    "temperature": mostly(st.floats(-0.5, 2.5) | st.integers(-1, 3)),
    "top_p": mostly(st.floats(-0.5, 1.5)),
    "presence_penalty": mostly(st.floats(-3, 3)),
    "frequency_penalty": mostly(st.integers(-3, 3)),
    "seed": mostly(st.integers(-5, 5)),
    "user": mostly(st.text(max_size=3)),
    "stream": mostly(st.booleans()),
    "stop": mostly(st.text(max_size=3) | st.lists(mostly(st.text(max_size=3)), max_size=2)),
}
bodies = st.fixed_dictionaries(
    {
        "model": mostly(st.sampled_from(["gpt-4o", "m", "o1", "", "  "])),
        "messages": mostly(st.lists(messages, max_size=4)),
    },
    optional=options,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies | bodies.map(lambda b: {**b, "tools": []}) | json_values)
def test_answers_only_with_the_codecs_number(root: object) -> None:
    body = msgspec.json.encode(root)
    plain = plain_chat_estimate(msgspec.json.decode(body))
    if plain is not None:
        assert plain == _codec(body)


@pytest.mark.parametrize(
    "root",
    [
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief. " * 30},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "é" * 7}]},
                {"role": "assistant", "content": None, "name": "bot"},
                {"role": "developer", "content": []},
            ],
            "max_tokens": 256,
            "temperature": 0.2,
            "top_p": 1,
            "stream": True,
            "stop": ["\n"],
            "seed": 3,
            "user": "u",
            "n": 1,
        },
    ],
)
def test_plain_requests_are_answered(root: dict[str, object]) -> None:
    body = msgspec.json.encode(root)
    assert plain_chat_estimate(msgspec.json.decode(body)) == _codec(body) is not None
