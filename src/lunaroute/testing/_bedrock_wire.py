"""What the fake Bedrock upstream sends: a `Reply` rendered as a Converse answer, event stream or AWS error; and
the request checks AWS makes (the botocore service model's shapes, role order, tool configuration)."""

from __future__ import annotations

import functools
import itertools
import json
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

from lunaroute.providers.mock import Answer, StopReason

from ._eventstream import event_message, exception_message
from ._plan import Plan
from ._reply import Reply

__all__ = ["bedrock_error", "check_converse_request", "converse_body", "render_converse"]

_EXCEPTIONS: dict[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_STOP: dict[StopReason, str] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "refusal": "content_filtered",
}
_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_REQUEST_ID = "fa4e7c1e-0000-4000-8000-000000000000"


def bedrock_error(status: int, exception: str | None = None, message: str | None = None) -> Plan:
    """An AWS JSON error: `x-amzn-errortype` names the exception, the body is `{"message": ...}`."""
    name = exception or _EXCEPTIONS.get(status, "InternalServerException")
    body = json.dumps({"message": message or f"{name} from the fake Bedrock upstream"}).encode()
    headers = [
        ("content-type", "application/json"),
        ("x-amzn-errortype", f"{name}:{_NAMESPACE}"),
        ("x-amzn-requestid", _REQUEST_ID),
    ]
    return Plan(status, headers, [body], chunked=False)


@functools.cache
def _input_shape(operation: str) -> Any:
    """The botocore service model's input shape of a `bedrock-runtime` operation (loaded once)."""
    return botocore.session.get_session().get_service_model("bedrock-runtime").operation_model(operation).input_shape


def check_converse_request(model_id: str, body: bytes, *, stream: bool) -> str | None:
    """None when AWS would accept `body` for `model_id`, else the `ValidationException` message."""
    try:
        params = json.loads(body)
    except ValueError:
        return "The request body is not valid JSON."
    if not isinstance(params, dict):
        return "The request body must be a JSON object."
    shape = _input_shape("ConverseStream" if stream else "Converse")
    try:
        report = ParamValidator().validate({**params, "modelId": model_id}, shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
    except ParamValidationError as exc:
        return f"1 validation error detected: {exc}"
    return _check_conversation(params)


def _check_conversation(params: dict[str, Any]) -> str | None:
    messages = params.get("messages") or []
    if messages and messages[0].get("role") != "user":
        return "A conversation must start with a user message."
    for before, after in itertools.pairwise(messages):
        if before.get("role") == after.get("role"):
            return "A conversation must alternate between user and assistant roles."
    for message in messages:
        for block in message.get("content") or []:
            if len(block) != 1:
                return "A content block must set exactly one member of its union."
            if ("toolUse" in block or "toolResult" in block) and "toolConfig" not in params:
                return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
            if "text" in block and not block["text"].strip() and message.get("role") == "user":
                return "The text field in the ContentBlock object is blank."
    return None


def _blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.thinking is not None:
        reasoning: dict[str, Any] = {"text": answer.thinking}
        if answer.thinking_signature is not None:
            reasoning["signature"] = answer.thinking_signature
        blocks.append({"reasoningContent": {"reasoningText": reasoning}})
    if answer.text:
        blocks.append({"text": answer.text})
    for i, call in enumerate(answer.tool_calls):
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        blocks.append({"toolUse": {"toolUseId": call.id or f"tooluse_mock_{i}", "name": call.name, "input": arguments}})
    return blocks


def _usage(answer: Answer) -> dict[str, int]:
    usage = answer.final_usage
    out = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens + usage.cache_read_tokens,
    }
    if usage.cache_read_tokens:
        out["cacheReadInputTokens"] = usage.cache_read_tokens
    return out


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def render_converse(reply: Reply, *, stream: bool) -> Plan:
    """`reply` as Bedrock answers `converse` (JSON) or `converse-stream` (event stream)."""
    if reply.status >= 400:
        return bedrock_error(reply.status, reply.error_type, reply.error_message)
    answer = reply.answer
    extra = list(reply.headers.items())
    head = [("x-amzn-requestid", _REQUEST_ID), *extra]
    if not stream:
        body = {
            "output": {"message": {"role": "assistant", "content": _blocks(answer)}},
            "stopReason": _STOP[answer.final_stop_reason],
            "usage": _usage(answer),
            "metrics": {"latencyMs": 12},
        }
        return Plan(reply.status, [("content-type", "application/json"), *head], [json.dumps(body).encode()], False)
    events = _events(answer, reply.pieces)
    if reply.error_after_chunks is not None:
        events = events[: reply.error_after_chunks]
        name = reply.error_type or "throttlingException"
        message = reply.error_message or "Too many requests, please wait before trying again."
        events.append(exception_message(name[0].lower() + name[1:], json.dumps({"message": message}).encode()))
    return Plan(reply.status, [("content-type", "application/vnd.amazon.eventstream"), *head], events, True)


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return event_message(kind, json.dumps(payload).encode())


def _events(answer: Answer, pieces: int) -> list[bytes]:
    out = [_event("messageStart", {"role": "assistant"})]
    for index, block in enumerate(_blocks(answer)):
        if "reasoningContent" in block:
            reasoning = block["reasoningContent"]["reasoningText"]
            for piece in _pieces(reasoning["text"], pieces):
                delta = {"reasoningContent": {"text": piece}}
                out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            if "signature" in reasoning:
                delta = {"reasoningContent": {"signature": reasoning["signature"]}}
                out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        elif "text" in block:
            for piece in _pieces(block["text"], pieces):
                out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}))
        else:
            tool = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            out.append(_event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            arguments = json.dumps(tool["input"])
            for piece in _pieces(arguments, 2):
                delta = {"toolUse": {"input": piece}}
                out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        out.append(_event("contentBlockStop", {"contentBlockIndex": index}))
    out.append(_event("messageStop", {"stopReason": _STOP[answer.final_stop_reason]}))
    out.append(_event("metadata", {"usage": _usage(answer), "metrics": {"latencyMs": 12}}))
    return out


def converse_body(answer: Answer, *, stream: bool, pieces: int = 4) -> bytes:
    """The whole body `FakeBedrock` sends for `answer`: Converse JSON, or the event-stream frames joined."""
    return b"".join(render_converse(Reply(answer=answer, pieces=pieces), stream=stream).chunks)
