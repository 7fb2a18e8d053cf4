"""Gemini API wire: the `GenerateContentResponse` body, its `alt=sse` stream, `countTokens`, Google errors."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ._answer import Answer, StopReason, ToolCall
from ._sse import encode_json, split_text

__all__ = [
    "gemini_error",
    "google_status",
    "render_gemini_count_tokens",
    "render_generate_content",
    "render_generate_content_stream",
]

DEFAULT_ID = "gemini-mock-response"
DEFAULT_MODEL = "gemini-mock"

_FINISH: Final[dict[StopReason, str]] = {
    "end_turn": "STOP",
    "tool_use": "STOP",
    "stop_sequence": "STOP",
    "max_tokens": "MAX_TOKENS",
    "refusal": "SAFETY",
}
_STATUS: Final[dict[int, str]] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def google_status(status: int) -> str:
    """The canonical Google RPC status name an HTTP status comes with."""
    return _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")


def gemini_error(status: int, message: str, google: str | None = None) -> bytes:
    """`{"error": {"code", "message", "status"}}`, the status name defaulting to the HTTP status's."""
    return encode_json({"error": {"code": status, "message": message, "status": google or google_status(status)}})


def _args(call: ToolCall) -> Any:
    try:
        value = msgspec.json.decode(call.arguments or "{}")
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _call_part(call: ToolCall) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name, "args": _args(call)}
    if call.id:
        function = {"id": call.id, **function}
    return {"functionCall": function}


def _usage(answer: Answer, thoughts: int) -> dict[str, Any]:
    usage = answer.final_usage
    prompt = usage.input_tokens + usage.cache_read_tokens
    out: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": usage.output_tokens,
        "totalTokenCount": prompt + usage.output_tokens + thoughts,
    }
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    return out


def _thoughts(answer: Answer) -> int:
    return len(answer.thinking.split()) if answer.thinking else 0


def _answer_parts(answer: Answer) -> list[dict[str, Any]]:
    """The answer's non-thought parts; the thought signature rides on the first, as Gemini sends it."""
    parts: list[dict[str, Any]] = []
    if answer.text:
        parts.append({"text": answer.text})
    parts.extend(_call_part(call) for call in answer.tool_calls)
    if answer.thinking_signature is not None:
        if not parts:
            parts.append({"text": ""})
        parts[0]["thoughtSignature"] = answer.thinking_signature
    return parts


def _response(answer: Answer, parts: list[dict[str, Any]], *, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate]}
    if final:
        reason = answer.final_stop_reason
        candidate["finishReason"] = _FINISH[reason]
        if reason == "refusal":
            candidate["content"] = {"role": "model"}
            candidate["safetyRatings"] = [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
            ]
        out["usageMetadata"] = _usage(answer, _thoughts(answer))
    out["modelVersion"] = answer.model_or(DEFAULT_MODEL)
    out["responseId"] = answer.id_or(DEFAULT_ID)
    return out


def render_generate_content(answer: Answer) -> bytes:
    """The `generateContent` answer: one candidate with thought, text and function-call parts."""
    parts: list[dict[str, Any]] = []
    if answer.thinking is not None:
        parts.append({"text": answer.thinking, "thought": True})
    parts.extend(_answer_parts(answer))
    return encode_json(_response(answer, parts, final=True))


def render_generate_content_stream(answer: Answer, *, pieces: int = 4) -> list[bytes]:
    """The `streamGenerateContent?alt=sse` events: the thoughts, then the text in `pieces` parts, then the
    function calls; the last event carries the finish reason and the usage. Events end in CRLF CRLF, as
    Google's servers send them."""
    chunks: list[list[dict[str, Any]]] = []
    if answer.thinking:
        chunks.append([{"text": answer.thinking, "thought": True}])
    answer_parts = _answer_parts(answer)
    first = answer_parts[0] if answer_parts else None
    if first is not None and "text" in first and first["text"]:
        texts = split_text(first["text"], pieces)
        for index, piece in enumerate(texts):
            part: dict[str, Any] = {"text": piece}
            if index == 0 and "thoughtSignature" in first:
                part["thoughtSignature"] = first["thoughtSignature"]
            chunks.append([part])
        answer_parts = answer_parts[1:]
    if answer_parts:
        chunks.append(answer_parts)
    if not chunks:
        chunks.append([])
    events = []
    for index, parts in enumerate(chunks):
        payload = _response(answer, parts, final=index == len(chunks) - 1)
        events.append(b"data: " + encode_json(payload) + b"\r\n\r\n")
    return events


def render_gemini_count_tokens(total_tokens: int) -> bytes:
    """`{"totalTokens": N}`."""
    return encode_json({"totalTokens": total_tokens})
