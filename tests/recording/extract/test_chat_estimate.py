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
arguments = mostly(st.sampled_from(["", " ", "{}", '{"a": 1}', '{"b":[1, "é"]}', "[1]", '{"a":', "null"]))
calls = mostly(
    st.fixed_dictionaries(
        {
            "id": mostly(st.text(max_size=4)),
            "function": mostly(st.fixed_dictionaries({"name": mostly(texts)}, optional={"arguments": arguments})),
        },
        optional={"type": mostly(st.sampled_from(["function", "", "custom"]))},
    )
)
messages = st.fixed_dictionaries(
    {"role": roles, "content": contents},
    optional={
        "name": mostly(st.text(max_size=5)),
        "tool_calls": mostly(st.lists(calls, max_size=2)),
        "tool_call_id": mostly(st.text(max_size=4)),
        "refusal": odd,
    },
)
schemas = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=6,
)
functions = st.fixed_dictionaries(
    {"name": mostly(texts)},
    optional={
        "description": mostly(texts),
        "parameters": mostly(st.dictionaries(st.text(max_size=3), schemas, max_size=3)),
        "strict": mostly(st.booleans()),
    },
)
tools = st.lists(
    mostly(st.fixed_dictionaries({"type": mostly(st.just("function")), "function": mostly(functions)})), max_size=3
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
    "tools": mostly(tools),
    "tool_choice": mostly(st.sampled_from(["auto", "required", "none", "any"]) | st.just({"type": "function"})),
    "parallel_tool_calls": mostly(st.booleans()),
}
bodies = st.fixed_dictionaries(
    {
        "model": mostly(st.sampled_from(["gpt-4o", "m", "o1", "", "  "])),
        "messages": mostly(st.lists(messages, max_size=4)),
    },
    optional=options,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


def test_a_coding_agent_request_with_tools_and_tool_calls_is_answered() -> None:
    weather = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    root = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You edit code."},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get", "arguments": '{"city": "Paris"}'}},
                    {"id": "c2", "type": "function", "function": {"name": "get", "arguments": "not json"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "c2", "content": None},
        ],
        "tools": [{"type": "function", "function": {"name": "get", "description": "Weather", "parameters": weather}}],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "stream": True,
    }
    body = msgspec.json.encode(root)
    assert plain_chat_estimate(msgspec.json.decode(body)) == _codec(body) is not None


def test_a_schema_nested_past_the_codecs_limit_is_left_to_the_codec() -> None:
    deep: dict[str, object] = {}
    for _ in range(61):
        deep = {"a": deep}
    root = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": deep}}],
    }
    body = msgspec.json.encode(root)
    assert _codec(body) is None
    assert plain_chat_estimate(msgspec.json.decode(body)) is None
