"""The lenient request reader and the tool-result success heuristic."""

from __future__ import annotations

import pytest

from lunaroute.recording.extract import guess_success, read_request
from lunaroute.types import Endpoint

from ._records import body


def test_responses_input_string_and_instructions() -> None:
    view = read_request(
        body({"model": "gpt-5", "instructions": "be brief", "input": "hello"}), Endpoint.OPENAI_RESPONSES
    )
    assert (view.text, view.message_count, view.has_system_prompt, view.model) == ("hello", 1, True, "gpt-5")


def test_responses_items_without_type_are_messages() -> None:
    items = [
        {"role": "developer", "content": "rules"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "a"},
                {"type": "input_image", "image_url": "x"},
                {"type": "input_text", "text": "b"},
            ],
        },
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
        {
            "type": "custom_tool_call_output",
            "call_id": "c1",
            "output": "Exit code: 1\nWall time: 0.1 seconds\nOutput:\nfailed",
        },
    ]
    view = read_request(body({"input": items}), Endpoint.OPENAI_RESPONSES)
    assert view.text == "a\nb"
    assert view.has_system_prompt
    assert view.tool_names == {"c1": "apply_patch"}
    assert [(r.call_id, r.success) for r in view.new_tool_results] == [("c1", False)]


def test_anthropic_string_content_and_system() -> None:
    view = read_request(
        body({"system": "s", "messages": [{"role": "user", "content": "hi"}]}), Endpoint.ANTHROPIC_MESSAGES
    )
    assert (view.text, view.has_system_prompt, view.message_count) == ("hi", True, 1)


def test_legacy_completions_prompt() -> None:
    assert read_request(body({"model": "m", "prompt": "once upon"}), Endpoint.OPENAI_COMPLETIONS).text == "once upon"


@pytest.mark.parametrize(
    "raw",
    [b"", b"[]", b"null", b'"s"', b"{bad", b'{"messages": 3, "tools": {}}', b'{"messages": [1, null, {"role": 5}]}'],
)
def test_odd_bodies_are_read_without_error(raw: bytes) -> None:
    for endpoint in (Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.OPENAI_RESPONSES):
        view = read_request(raw, endpoint)
        assert view.text == ""
        assert view.new_tool_results == []


def test_non_json_body_is_kept_as_text() -> None:
    assert read_request(b"{bad", Endpoint.OPENAI_CHAT).json == "{bad"
    assert read_request(b"", Endpoint.OPENAI_CHAT).json is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"output": "ok", "metadata": {"exit_code": 0, "duration_seconds": 0.2}}', True),
        ('{"output": "", "metadata": {"exit_code": 2}}', False),
        ('{"exit_code": 1}', False),
        ('{"success": true}', True),
        ('{"error": "nope"}', False),
        ('{"error": null, "result": 3}', None),
        ('{"is_error": true}', False),
        ("Exit code: 0\nWall time: 1 seconds\nOutput:\nfine", True),
        ("Exit code: 127\nOutput:\ncommand not found", False),
        ("Error: file missing", False),
        ("  Traceback (most recent call last):\n  File ...", False),
        ("fatal: not a git repository", False),
        ("3 tests passed, error handling verified", None),
        ("File not found in the listing below? no: all invalid entries skipped", None),
        ("", None),
        ("{broken json", None),
        ("Exit code: " + "9" * 5000, None),
    ],
)
def test_guess_success(content: str, expected: bool | None) -> None:
    assert guess_success(content) is expected
