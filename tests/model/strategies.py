"""Hypothesis strategies for model values in each dialect's canonical form (what its decoder yields)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from lunaroute import model as m

text = st.text(min_size=1, max_size=20)
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ident = st.text(alphabet=_ALNUM + "_", min_size=1, max_size=12)
b64 = st.text(alphabet=_ALNUM + "+/", min_size=4, max_size=16)
url = st.text(alphabet="abcdefghij", min_size=1, max_size=8).map(lambda s: f"https://example.com/{s}.png")
json_leaf = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=10)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ident, children, max_size=3),
    max_leaves=8,
)
json_object: st.SearchStrategy[dict[str, Any]] = st.dictionaries(ident, json_value, max_size=4)
schema = st.builds(
    lambda props: {"type": "object", "properties": props},
    st.dictionaries(ident, st.just({"type": "string"}), max_size=3),
)
cache = st.none() | st.builds(m.CacheControl, ttl=st.none() | st.sampled_from(["5m", "1h"]))
unit = st.floats(0, 1, allow_nan=False).map(lambda x: round(x, 3))
usage = st.builds(
    m.Usage,
    input_tokens=st.integers(0, 10**6),
    output_tokens=st.integers(0, 10**6),
    cache_read_tokens=st.integers(0, 10**6),
    reasoning_tokens=st.just(0),
)


def tool_use() -> st.SearchStrategy[m.ToolUseBlock]:
    return st.builds(m.ToolUseBlock, id=ident.map(lambda s: "call_" + s), name=ident, input=json_object)


# ---- Anthropic canonical forms ----

a_image = st.builds(
    m.ImageBlock,
    source=st.builds(m.Base64Source, media_type=st.just("image/png"), data=b64) | st.builds(m.UrlSource, url=url),
    cache_control=cache,
)
a_text = st.builds(m.TextBlock, text=text, cache_control=cache)
a_document = st.builds(
    m.DocumentBlock,
    source=st.builds(m.Base64Source, media_type=st.just("application/pdf"), data=b64),
    title=st.none() | text,
)
a_result = st.builds(
    m.ToolResultBlock,
    tool_use_id=ident,
    content=text | st.lists(a_text | a_image, min_size=1, max_size=3).map(tuple),
    is_error=st.booleans(),
)
a_user = st.builds(
    m.Message,
    role=st.just("user"),
    content=st.lists(a_text | a_image | a_document | a_result, min_size=1, max_size=4).map(tuple),
)
a_assistant = st.builds(
    m.Message,
    role=st.just("assistant"),
    content=st.lists(
        a_text
        | st.builds(m.ThinkingBlock, thinking=text, signature=b64)
        | st.builds(m.RedactedThinkingBlock, data=b64)
        | tool_use(),
        min_size=1,
        max_size=4,
    ).map(tuple),
)
a_tool = st.builds(
    m.Tool,
    name=ident,
    description=st.none() | text,
    input_schema=schema,
    strict=st.none() | st.booleans(),
    cache_control=cache,
)
a_reasoning = st.none() | st.one_of(
    st.builds(
        m.Reasoning,
        mode=st.just("enabled"),
        budget_tokens=st.integers(1024, 20000),
        display=st.none() | st.just("summarized"),
    ),
    st.builds(m.Reasoning, mode=st.just("adaptive"), effort=st.none() | st.sampled_from(["low", "high", "max"])),
    st.builds(m.Reasoning, mode=st.just("disabled")),
)


@st.composite
def anthropic_request(draw: st.DrawFn) -> m.Request:
    system = draw(st.lists(a_text, max_size=3))
    turns = draw(st.lists(a_user | a_assistant, min_size=1, max_size=4))
    messages = ((m.Message(role="system", content=tuple(system)),) if system else ()) + tuple(turns)
    tools = tuple(draw(st.lists(a_tool, max_size=3)))
    choice = (
        draw(
            st.none()
            | st.sampled_from([m.ToolChoiceAuto(), m.ToolChoiceAny(), m.ToolChoiceNone()])
            | st.builds(m.ToolChoiceTool, name=ident)
        )
        if tools
        else None
    )
    parallel = (
        draw(st.none() | st.booleans()) if choice is not None and not isinstance(choice, m.ToolChoiceNone) else None
    )
    reasoning = draw(a_reasoning)
    thinking_on = reasoning is not None and reasoning.mode in ("enabled", "adaptive")
    return m.Request(
        model=draw(ident),
        messages=messages,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=draw(st.integers(1, 64000)),
        temperature=None if thinking_on else draw(st.none() | unit),
        top_p=None if thinking_on else draw(st.none() | unit),
        top_k=None if thinking_on else draw(st.none() | st.integers(0, 500)),
        stop=tuple(draw(st.lists(text, max_size=2))),
        response_format=draw(st.none() | st.builds(m.ResponseFormat, kind=st.just("json_schema"), schema=schema)),
        reasoning=reasoning,
        user=draw(st.none() | text),
        stream=draw(st.booleans()),
        include_usage=True,
    )


@st.composite
def anthropic_response(draw: st.DrawFn) -> m.Response:
    blocks = draw(
        st.lists(
            st.builds(m.TextBlock, text=text)
            | st.builds(m.ThinkingBlock, thinking=text, signature=b64)
            | st.builds(m.RedactedThinkingBlock, data=b64)
            | tool_use(),
            max_size=4,
        )
    )
    reason = draw(st.sampled_from(["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]))
    return m.Response(
        id="msg_" + draw(ident),
        model=draw(ident),
        content=tuple(blocks),
        stop_reason=reason,
        stop_sequence=draw(text) if reason == "stop_sequence" else None,
        usage=draw(
            st.builds(
                m.Usage,
                input_tokens=st.integers(0, 10**5),
                output_tokens=st.integers(0, 10**5),
                cache_read_tokens=st.integers(0, 10**5),
                cache_creation_tokens=st.integers(0, 10**5),
                reasoning_tokens=st.integers(0, 10**5),
            )
        ),
    )


# ---- OpenAI canonical forms ----

o_text = st.builds(m.TextBlock, text=text)
o_image = st.builds(
    m.ImageBlock,
    source=st.builds(m.Base64Source, media_type=st.just("image/png"), data=b64) | st.builds(m.UrlSource, url=url),
    detail=st.none() | st.sampled_from(["auto", "low", "high"]),
)
o_document = st.builds(
    m.DocumentBlock, source=st.builds(m.Base64Source, media_type=st.just("application/pdf"), data=b64), filename=text
)
name = st.none() | ident


@st.composite
def o_assistant(draw: st.DrawFn) -> m.Message:
    blocks: list[m.Block] = []
    if draw(st.booleans()):
        blocks.append(m.ThinkingBlock(thinking=draw(text)))
    blocks.extend(draw(st.lists(o_text, max_size=2)))
    if draw(st.booleans()):
        blocks.append(m.RefusalBlock(text=draw(text)))
    blocks.extend(draw(st.lists(tool_use(), max_size=2)))
    if not blocks:
        blocks.append(m.TextBlock(text=draw(text)))
    return m.Message(role="assistant", content=tuple(blocks), name=draw(name))


o_message = st.one_of(
    st.builds(
        m.Message,
        role=st.sampled_from(["system", "developer"]),
        content=st.lists(o_text, min_size=1, max_size=2).map(tuple),
        name=name,
    ),
    st.builds(
        m.Message,
        role=st.just("user"),
        content=st.lists(o_text | o_image | o_document, min_size=1, max_size=3).map(tuple),
        name=name,
    ),
    o_assistant(),
    st.builds(lambda i, c: m.Message(role="tool", content=(m.ToolResultBlock(tool_use_id=i, content=c),)), ident, text),
)
o_tool = st.builds(
    m.Tool, name=ident, description=st.none() | text, input_schema=schema, strict=st.none() | st.booleans()
)
o_format = (
    st.none()
    | st.builds(m.ResponseFormat, kind=st.sampled_from(["text", "json_object"]))
    | st.builds(
        m.ResponseFormat,
        kind=st.just("json_schema"),
        name=ident,
        description=st.none() | text,
        schema=schema,
        strict=st.none() | st.booleans(),
    )
)


@st.composite
def openai_request(draw: st.DrawFn) -> m.Request:
    tools = tuple(draw(st.lists(o_tool, max_size=3)))
    stream = draw(st.booleans())
    penalty = st.none() | st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 2))
    return m.Request(
        model=draw(ident),
        messages=tuple(draw(st.lists(o_message, min_size=1, max_size=5))),
        tools=tools,
        tool_choice=draw(
            st.none()
            | st.sampled_from([m.ToolChoiceAuto(), m.ToolChoiceAny(), m.ToolChoiceNone()])
            | st.builds(m.ToolChoiceTool, name=ident)
        )
        if tools
        else None,
        parallel_tool_calls=draw(st.none() | st.booleans()) if tools else None,
        max_tokens=draw(st.none() | st.integers(1, 10**5)),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False).map(lambda x: round(x, 2))),
        top_p=draw(st.none() | unit),
        stop=tuple(draw(st.lists(text, max_size=3))),
        seed=draw(st.none() | st.integers(-(2**31), 2**31)),
        presence_penalty=draw(penalty),
        frequency_penalty=draw(penalty),
        response_format=draw(o_format),
        reasoning=draw(
            st.none() | st.builds(m.Reasoning, effort=st.sampled_from(["none", "minimal", "low", "medium", "high"]))
        ),
        user=draw(st.none() | ident),
        stream=stream,
        include_usage=draw(st.booleans()) if stream else False,
    )


@st.composite
def openai_response(draw: st.DrawFn) -> m.Response:
    blocks: list[m.Block] = []
    if draw(st.booleans()):
        blocks.append(m.ThinkingBlock(thinking=draw(text)))
    if draw(st.booleans()):
        blocks.append(m.TextBlock(text=draw(text)))
    if draw(st.booleans()):
        blocks.append(m.RefusalBlock(text=draw(text)))
    blocks.extend(draw(st.lists(tool_use(), max_size=3)))
    return m.Response(
        id="chatcmpl-" + draw(ident),
        model=draw(ident),
        content=tuple(blocks),
        stop_reason=draw(st.sampled_from(["end_turn", "max_tokens", "tool_use", "refusal"])),
        usage=draw(usage),
        created=draw(st.integers(0, 2**31)),
    )


# ---- OpenAI Responses canonical forms ----

r_user_part = o_text | o_image.map(
    lambda b: b if b.detail is not None else m.ImageBlock(source=b.source, detail="auto")
)
r_result = st.builds(
    m.ToolResultBlock,
    tool_use_id=ident.map(lambda s: "call_" + s),
    content=st.just("") | text | st.lists(o_text, min_size=1, max_size=2).map(tuple),
)
r_thinking = st.builds(m.ThinkingBlock, thinking=st.just("") | text, signature=b64)


@st.composite
def r_assistant(draw: st.DrawFn) -> m.Message:
    block = o_text | st.builds(m.RefusalBlock, text=text) | r_thinking | tool_use()
    return m.Message(role="assistant", content=tuple(draw(st.lists(block, min_size=1, max_size=4))))


r_turn = st.one_of(
    st.builds(m.Message, role=st.just("user"), content=st.lists(r_user_part, min_size=1, max_size=3).map(tuple)),
    st.builds(
        m.Message,
        role=st.sampled_from(["developer", "system"]),
        content=st.lists(o_text, min_size=1, max_size=2).map(tuple),
    ),
    r_assistant(),
    st.builds(lambda r: m.Message(role="tool", content=(r,)), r_result),
)
r_tool = st.builds(m.Tool, name=ident, description=st.none() | text, input_schema=schema, strict=st.booleans())


@st.composite
def responses_request(draw: st.DrawFn) -> m.Request:
    turns: list[m.Message] = []
    for turn in draw(st.lists(r_turn, min_size=1, max_size=5)):
        if not (turn.role == "assistant" and turns and turns[-1].role == "assistant"):
            turns.append(turn)
    if turns[0].role == "system" and len(turns[0].content) == 1:
        turns[0] = m.Message(role="developer", content=turns[0].content)
    if draw(st.booleans()):
        turns.insert(0, m.Message(role="system", content=(m.TextBlock(text=draw(text)),)))
    tools = tuple(draw(st.lists(r_tool, max_size=3)))
    return m.Request(
        model=draw(ident),
        messages=tuple(turns),
        tools=tools,
        tool_choice=draw(
            st.none()
            | st.sampled_from([m.ToolChoiceAuto(), m.ToolChoiceAny(), m.ToolChoiceNone()])
            | st.builds(m.ToolChoiceTool, name=ident)
        )
        if tools
        else None,
        parallel_tool_calls=draw(st.none() | st.booleans()) if tools else None,
        max_tokens=draw(st.none() | st.integers(1, 10**5)),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False).map(lambda x: round(x, 2))),
        top_p=draw(st.none() | unit),
        response_format=draw(o_format.map(lambda f: f if f is None or f.kind != "json_schema" or f.name else None)),
        reasoning=draw(
            st.none() | st.builds(m.Reasoning, effort=st.sampled_from(["minimal", "low", "medium", "high"]))
        ),
        user=draw(st.none() | ident),
        stream=draw(st.booleans()),
        include_usage=True,
    )


@st.composite
def responses_response(draw: st.DrawFn) -> m.Response:
    blocks = draw(
        st.lists(
            o_text
            | st.builds(m.RefusalBlock, text=text)
            | st.builds(m.ThinkingBlock, thinking=st.just("") | text, signature=st.none() | b64)
            | st.builds(m.RedactedThinkingBlock, data=b64)
            | tool_use(),
            max_size=5,
        )
    )
    reason = draw(st.sampled_from(["end_turn", "max_tokens", "refusal"]))
    if reason == "end_turn" and any(isinstance(b, m.ToolUseBlock) for b in blocks):
        reason = "tool_use"
    return m.Response(
        id="resp_" + draw(ident),
        model=draw(ident),
        content=tuple(blocks),
        stop_reason=reason,
        usage=draw(
            st.builds(
                m.Usage,
                input_tokens=st.integers(0, 10**6),
                output_tokens=st.integers(0, 10**6),
                cache_read_tokens=st.integers(0, 10**6),
                reasoning_tokens=st.integers(0, 10**5),
            )
        ),
        created=draw(st.integers(0, 2**31)),
    )
