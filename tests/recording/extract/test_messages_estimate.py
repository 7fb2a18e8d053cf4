"""The Anthropic Messages input estimate answers only where it equals the codec's, and answers for the requests
coding agents send."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunaroute.dialects import anthropic_messages
from lunaroute.errors import LunaRouteError
from lunaroute.model import estimate_input_tokens
from lunaroute.recording.extract._messages_estimate import plain_messages_estimate

from .test_chat_estimate import mostly, odd, texts
from .test_fuzz import json_values

FIXTURES = Path(__file__).parents[2] / "fixtures" / "anthropic_messages"


def _codec(body: bytes) -> int | None:
    try:
        return estimate_input_tokens(anthropic_messages.decode_request(body))
    except LunaRouteError:
        return None


nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=6,
)
cache = mostly(st.fixed_dictionaries({}, optional={"type": mostly(st.just("ephemeral")), "ttl": mostly(texts)}))
text_block = st.fixed_dictionaries({"type": st.just("text"), "text": mostly(texts)}, optional={"cache_control": cache})
blocks = mostly(
    text_block
    | st.fixed_dictionaries(
        {"type": st.just("tool_use"), "id": mostly(texts), "name": mostly(texts)},
        optional={"input": mostly(st.dictionaries(st.text(max_size=3), nested, max_size=2)), "cache_control": cache},
    )
    | st.fixed_dictionaries(
        {"type": st.just("tool_result"), "tool_use_id": mostly(texts)},
        optional={
            "content": mostly(texts | st.lists(text_block, max_size=2) | st.just([{"type": "image"}])),
            "is_error": mostly(st.booleans()),
        },
    )
    | st.fixed_dictionaries(
        {"type": st.just("thinking"), "thinking": mostly(texts)}, optional={"signature": mostly(texts)}
    )
    | st.fixed_dictionaries({"type": mostly(st.just("redacted_thinking")), "data": mostly(texts)})
    | st.fixed_dictionaries({"type": mostly(st.sampled_from(["image", "document", "server_tool_use", ""]))})
)
contents = mostly(texts | st.lists(blocks, max_size=3))
messages = st.fixed_dictionaries(
    {"role": mostly(st.sampled_from(["user", "assistant", "system"])), "content": contents},
    optional={"name": odd},
)
tools = st.lists(
    mostly(
        st.fixed_dictionaries(
            {"name": mostly(texts), "input_schema": mostly(st.dictionaries(st.text(max_size=3), nested, max_size=3))},
            optional={
                "type": mostly(st.sampled_from(["custom", "web_search_20250305", ""])),
                "description": mostly(texts),
                "cache_control": cache,
                "strict": mostly(st.booleans()),
            },
        )
    ),
    max_size=3,
)
options = {
    "system": mostly(texts | st.lists(mostly(text_block), max_size=2)),
    "tools": mostly(tools),
    "tool_choice": mostly(
        st.fixed_dictionaries(
            {"type": mostly(st.sampled_from(["auto", "any", "none", "tool", "x"]))},
            optional={"name": mostly(texts), "disable_parallel_tool_use": mostly(st.booleans())},
        )
    ),
    "thinking": mostly(
        st.fixed_dictionaries(
            {"type": mostly(st.sampled_from(["enabled", "adaptive", "disabled", "new"]))},
            optional={"budget_tokens": mostly(st.integers(0, 9)), "display": mostly(texts)},
        )
    ),
    "temperature": mostly(st.floats(-0.5, 1.5)),
    "top_p": mostly(st.floats(-0.5, 1.5)),
    "top_k": mostly(st.integers(-1, 5)),
    "stop_sequences": mostly(st.lists(mostly(st.text(max_size=3)), max_size=2)),
    "stream": mostly(st.booleans()),
    "metadata": mostly(st.fixed_dictionaries({}, optional={"user_id": mostly(texts), "other": nested})),
    "output_config": mostly(st.fixed_dictionaries({}, optional={"effort": mostly(texts), "other": nested})),
    "context_management": nested,
}
bodies = st.fixed_dictionaries(
    {
        "model": mostly(st.sampled_from(["claude-sonnet-4-5", "m", "", "  "])),
        "max_tokens": mostly(st.integers(0, 9)),
        "messages": mostly(st.lists(messages, max_size=4)),
    },
    optional=options,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies | json_values)
def test_answers_only_with_the_codecs_number(root: object) -> None:
    body = msgspec.json.encode(root)
    plain = plain_messages_estimate(msgspec.json.decode(body))
    if plain is not None:
        assert plain == _codec(body)


@pytest.mark.parametrize("name", ["request_basic.json", "request_claude_code.json"])
def test_the_fixture_requests_are_answered(name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    assert plain_messages_estimate(msgspec.json.decode(body)) == _codec(body) is not None


def test_a_conversation_with_tool_calls_results_and_thinking_is_answered() -> None:
    root = json.loads((FIXTURES / "request_tools.json").read_text())
    root["messages"] = [{"role": "user", "content": "What is the weather like in Paris?"}]  # the fixture's has a photo
    root["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Look it up.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "abcdefgh"},
                {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"location": "Paris, France"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "21 °C"}]},
                {"type": "tool_result", "tool_use_id": "t1", "content": "again", "is_error": True},
                {"type": "text", "text": "Thanks", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            ],
        },
    ]
    root["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    root["tool_choice"] = {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    body = msgspec.json.encode(root)
    assert plain_messages_estimate(msgspec.json.decode(body)) == _codec(body) is not None


@pytest.mark.parametrize("where", ["schema", "input", "extra"])
def test_nesting_past_the_codecs_limit_is_left_to_the_codec(where: str) -> None:
    for levels in range(55, 66):
        deep: dict[str, object] = {}
        for _ in range(levels):
            deep = {"a": deep}
        root: dict[str, object] = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        if where == "schema":
            root["tools"] = [{"name": "f", "input_schema": deep}]
        elif where == "input":
            root["messages"] = [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "name": "f", "input": deep}]}
            ]
        else:
            root["context_management"] = deep
        body = msgspec.json.encode(root)
        assert plain_messages_estimate(msgspec.json.decode(body)) == _codec(body)
