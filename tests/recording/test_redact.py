"""PII redaction of session events: the built-in detectors, custom patterns, every text field, the config."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lunaroute.config import config_from_mapping
from lunaroute.config._schema import BUILTIN_DETECTORS, RedactionConfig
from lunaroute.errors import ConfigError
from lunaroute.recording._redact import Redactor, build_redactor
from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    Started,
    StatsUpdated,
    StreamStarted,
    ToolCallRecorded,
)

IDS = {"session_id": "sess-1", "request_id": "req-1"}


def redactor(**section: Any) -> Redactor:
    config = config_from_mapping({"session_recording": {"redaction": {"enabled": True, **section}}}, env={})
    built = build_redactor(config.session_recording.redaction)
    assert built is not None
    return built


@pytest.fixture(scope="module")
def default() -> Redactor:
    return redactor()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail john.doe+x@mail.example.co.uk now", "mail [REDACTED:email] now"),
        ("card 4111 1111 1111 1111, 5500-0000-0000-0004", "card [REDACTED:credit_card], [REDACTED:credit_card]"),
        ("raw 4111111111111111.", "raw [REDACTED:credit_card]."),
        ("call +1 (555) 123-4567 or 555-123-4567", "call [REDACTED:phone] or [REDACTED:phone]"),
        ("uk +44 20 7946 0958; us (555) 123-4567", "uk [REDACTED:phone]; us [REDACTED:phone]"),
        ("ssn 123-45-6789", "ssn [REDACTED:ssn]"),
        ("from 192.168.1.20:8080", "from [REDACTED:ipv4]:8080"),
        ("v6 2001:db8::8a2e:370:7334 and fe80::1%eth0", "v6 [REDACTED:ipv6] and [REDACTED:ipv6]%eth0"),
        ("iban GB82 WEST 1234 5698 7654 32 or DE89370400440532013000", "iban [REDACTED:iban] or [REDACTED:iban]"),
        ("key sk-ant-api03-" + "a" * 40 + " aws AKIAIOSFODNN7EXAMPLE", "key [REDACTED:api_key] aws [REDACTED:api_key]"),
        ("gh ghp_" + "A1" * 18 + " slack xoxb-1234567890-abc", "gh [REDACTED:api_key] slack [REDACTED:api_key]"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature-1", "jwt [REDACTED:jwt]"),
    ],
)
def test_builtin_detectors_find(default: Redactor, text: str, expected: str) -> None:
    assert default.text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 fails the Luhn check",
        "order 1234567890123 is a bare number",
        "ssn 000-12-3456 and 666-12-3456 and 123-00-4567 are impossible",
        "256.1.1.1 and 1.2.3 and 10.0.0.0.1 are not addresses",
        "times 12:30:45, std::vector and ::1",
        "iban GB00 WEST 1234 5698 7654 32 has a bad checksum",
        "digits 1234567890 and 2026-03-01 and 10:30 stay",
        "user@localhost is not an address with a domain",
        "sk-short and notAKIAIOSFODNN7EXAMPLE and xAIzaSy",
        "",
    ],
)
def test_builtin_detectors_leave_alone(default: Redactor, text: str) -> None:
    assert default.text(text) is text


def test_overlaps_resolve_leftmost_then_detector_order(default: Redactor) -> None:
    assert default.text("a@b.co,1.2.3.4") == "[REDACTED:email],[REDACTED:ipv4]"
    # an IPv4 address inside an e-mail domain belongs to the e-mail match that starts first
    assert default.text("root@10.0.0.1.example.com") == "[REDACTED:email]"


def test_custom_patterns_replacement_and_case() -> None:
    red = redactor(
        builtin=["email"],
        replacement="<{name}>",
        patterns=[
            {"name": "employee", "regex": r"EMP-\d{5}"},
            {"name": "project", "regex": r"project (falcon|osprey)", "ignore_case": True, "replacement": "***"},
        ],
    )
    text = "EMP-12345 on Project FALCON, emp-12345, a@b.io, 192.168.0.1"
    assert red.text(text) == "<employee> on ***, emp-12345, <email>, 192.168.0.1"
    assert red.text(r"keep \1 and \g<0>") == r"keep \1 and \g<0>"


def test_replacement_with_backslashes_is_literal() -> None:
    red = redactor(builtin=[], patterns=[{"name": "x", "regex": "secret", "replacement": r"\1\n{name}"}])
    assert red.text("a secret b") == r"a \1\nx b"


def test_builtin_subset_and_none() -> None:
    only_email = redactor(builtin=["email"])
    assert only_email.text("a@b.io 123-45-6789") == "[REDACTED:email] 123-45-6789"
    nothing = redactor(builtin=[])
    assert nothing.text("a@b.io") == "a@b.io"


def test_disabled_builds_nothing() -> None:
    assert build_redactor(RedactionConfig()) is None
    assert build_redactor(config_from_mapping({}, env={}).session_recording.redaction) is None
    assert set(RedactionConfig().builtin) == set(BUILTIN_DETECTORS)


# -- events -------------------------------------------------------------------------------------------------------

PII = "reach me at jane@corp.example or 555-123-4567"
CLEAN = "reach me at [REDACTED:email] or [REDACTED:phone]"


def test_request_text_json_tool_results_and_system(default: Redactor) -> None:
    body = {
        "model": "claude-sonnet-4",
        "system": [{"type": "text", "text": PII}],
        "tools": [{"name": "lookup", "description": PII, "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": PII},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": PII}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": PII}]}
                ],
            },
        ],
        "max_tokens": 5551234567,
    }
    event = RequestRecorded(**IDS, request_text=PII, request_json=body, request_size_bytes=99)
    out = default(event)
    assert isinstance(out, RequestRecorded)
    assert out.request_text == CLEAN
    j = out.request_json
    assert j["system"][0]["text"] == CLEAN
    assert j["tools"][0]["description"] == CLEAN
    assert j["messages"][0]["content"] == CLEAN
    assert j["messages"][1]["content"][0]["input"]["q"] == CLEAN
    assert j["messages"][2]["content"][0]["content"][0]["text"] == CLEAN
    assert j["messages"][1]["content"][0]["id"] == "toolu_1"
    assert j["max_tokens"] == 5551234567
    assert out.request_size_bytes == 99
    assert event.request_text == PII  # the original is not modified
    assert body["messages"][0]["content"] == PII


def test_response_text_json_and_thinking(default: Redactor) -> None:
    signature = base64.b64encode(b"jane@corp.example 555-123-4567" * 3).decode()
    body = {
        "content": [
            {"type": "thinking", "thinking": PII, "signature": "a@b.io"},
            {"type": "text", "text": PII},
            {"type": "tool_use", "id": "t", "name": "send", "input": {"to": "jane@corp.example"}},
        ],
        "reasoning": {"encrypted_content": "x@y.io", "summary": [PII]},
        "blob": signature,
    }
    out = default(ResponseRecorded(**IDS, response_text=PII, response_json=body))
    assert isinstance(out, ResponseRecorded)
    assert out.response_text == CLEAN
    content = out.response_json["content"]
    assert content[0] == {"type": "thinking", "thinking": CLEAN, "signature": "a@b.io"}
    assert content[1]["text"] == CLEAN
    assert content[2]["input"] == {"to": "[REDACTED:email]"}
    assert out.response_json["reasoning"] == {"encrypted_content": "x@y.io", "summary": [CLEAN]}


def test_tool_arguments_headers_and_error(default: Redactor) -> None:
    tool = default(ToolCallRecorded(**IDS, tool_name="send", tool_call_id="c1", tool_arguments='{"to": "a@b.io"}'))
    assert isinstance(tool, ToolCallRecorded)
    assert tool.tool_arguments == '{"to": "[REDACTED:email]"}'
    assert tool.tool_call_id == "c1"
    started = default(
        Started(
            **IDS,
            model_requested="m",
            provider="p",
            listener="anthropic",
            client_ip="10.1.2.3",
            user_agent="cli/1.0 (admin@corp.example)",
            request_headers={"x-user": "a@b.io", "anthropic-version": "2023-06-01"},
        )
    )
    assert isinstance(started, Started)
    assert started.request_headers == {"x-user": "[REDACTED:email]", "anthropic-version": "2023-06-01"}
    assert started.client_ip == "10.1.2.3"  # governed by session_recording.client_ip
    assert started.user_agent == "cli/1.0 (admin@corp.example)"
    done = default(Completed(**IDS, success=False, error=f"upstream 400: {PII}"))
    assert isinstance(done, Completed)
    assert done.error == f"upstream 400: {CLEAN}"


def test_events_without_text_or_matches_are_the_same_object(default: Redactor) -> None:
    events = [
        StreamStarted(**IDS, time_to_first_token_ms=3),
        StatsUpdated(**IDS, user_agent="a@b.io"),
        RequestRecorded(**IDS, request_text="hello", request_json={"messages": [{"role": "user", "content": "hi"}]}),
        ResponseRecorded(**IDS, response_text="x", response_json=None),
        ToolCallRecorded(**IDS, tool_name="t", tool_call_id="c", tool_arguments=None),
        Completed(**IDS, success=True),
    ]
    for event in events:
        assert default(event) is event


def test_skip_json_keys_is_configurable() -> None:
    red = redactor(skip_json_keys=["note"])
    out = red.json({"note": "a@b.io", "signature": "c@d.io", "nested": [{"note": "e@f.io"}]})
    assert out == {"note": "a@b.io", "signature": "[REDACTED:email]", "nested": [{"note": "e@f.io"}]}


def test_base64_payloads_are_left_alone(default: Redactor) -> None:
    blob = base64.b64encode(b"sk-ant-" + bytes(range(256)) * 8).decode()
    assert default.text(blob) is blob
    url = "data:image/png;base64," + blob
    assert default.text(url) is url
    prose = "call 555-123-4567 " + "x" * 2000
    assert default.text(prose).startswith("call [REDACTED:phone] ")


def test_cached_results_are_the_same(default: Redactor) -> None:
    long = PII + " filler" * 100
    first = default.text(long)
    assert default.text(long) == first
    assert default.text(str(long)) == first
    plain = "nothing to see here " * 10
    assert default.text(plain) is plain
    assert default.text(plain) is plain


# -- configuration ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "path", "reason"),
    [
        (
            {"patterns": [{"name": "x", "regex": "("}]},
            "$.session_recording.redaction.patterns[0].regex",
            "not a valid regex",
        ),
        (
            {"patterns": [{"name": "x", "regex": "a*"}]},
            "$.session_recording.redaction.patterns[0].regex",
            "empty string",
        ),
        (
            {"patterns": [{"name": "x", "regex": "a"}, {"name": "x", "regex": "b"}]},
            "$.session_recording.redaction.patterns[1].name",
            "already taken",
        ),
        (
            {"patterns": [{"name": "email", "regex": "a"}]},
            "$.session_recording.redaction.patterns[0].name",
            "already taken",
        ),
        (
            {"patterns": [{"name": "no spaces", "regex": "a"}]},
            "$.session_recording.redaction.patterns[0].name",
            "letters",
        ),
        ({"replacement": "[{kind}]"}, "$.session_recording.redaction.replacement", "only placeholder"),
        (
            {"patterns": [{"name": "x", "regex": "a", "replacement": "{"}]},
            "$.session_recording.redaction.patterns[0].replacement",
            "only placeholder",
        ),
        ({"builtin": ["email", "email"]}, "$.session_recording.redaction.builtin", "twice"),
        ({"builtin": ["passport"]}, "$.session_recording.redaction.builtin[0]", "Invalid enum value"),
        ({"mode": "mask"}, "$.session_recording.redaction", "unknown field `mode`"),
    ],
)
def test_config_errors_name_the_key_path(section: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"session_recording": {"redaction": section}}, env={})
    assert info.value.path == path
    assert reason in info.value.reason
