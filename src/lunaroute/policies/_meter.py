"""Token usage read from an answer as it is relayed, for the tokens-per-minute limits.

Only requests under a `tpm` limit are metered. A JSON body is decoded once for its `usage`; a stream is watched
for the events that carry usage (OpenAI's final chunk with `include_usage`, Anthropic's `message_start` and
`message_delta`, the Responses API's `response.completed`) — a chunk costs a search for the end of its last event. An answer that carries no usage is estimated at one token per four bytes of the request and the answer.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["UsageMeter"]

_MARK = b'"usage"'
_MAX_PENDING = 1 << 20


class _Inner(msgspec.Struct):
    usage: Any = None


class _Doc(msgspec.Struct):
    """Only what carries usage; every other field of a body or event is skipped by the decoder, not built."""

    usage: Any = None
    message: _Inner | None = None
    response: _Inner | None = None


_decode_doc = msgspec.json.Decoder(_Doc).decode


def _int(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _from_usage(usage: Any) -> tuple[int, int]:
    """(input, output) of one `usage` object in any dialect (cached input counted as input)."""
    if not isinstance(usage, dict):
        return 0, 0
    get = usage.get
    prompt = _int(get("prompt_tokens"))
    if not prompt:
        prompt = (
            _int(get("input_tokens")) + _int(get("cache_read_input_tokens")) + _int(get("cache_creation_input_tokens"))
        )
    completion = _int(get("completion_tokens"))
    return prompt, completion or _int(get("output_tokens"))


def _find_usage(doc: _Doc) -> Any:
    """The `usage` object of a body or event: top level, or inside `message` / `response`."""
    if doc.usage is not None:
        return doc.usage
    for inner in (doc.message, doc.response):
        if inner is not None and inner.usage is not None:
            return inner.usage
    return None


class UsageMeter:
    """Fed the bytes of one answer (`body` or `chunk`s); `tokens()` is input + output."""

    __slots__ = ("_input", "_output", "_pending", "_relayed", "_request_bytes", "_seen")

    def __init__(self, request_bytes: int) -> None:
        self._request_bytes = request_bytes
        self._input = 0
        self._output = 0
        self._seen = False
        self._pending = b""
        self._relayed = 0

    def body(self, data: bytes) -> None:
        self._relayed += len(data)
        if _MARK in data:
            self._take(data)

    def chunk(self, data: bytes) -> None:
        self._relayed += len(data)
        buffered = self._pending + data if self._pending else data
        end = buffered.rfind(b"\n\n")
        if end < 0:
            self._pending = buffered if len(buffered) <= _MAX_PENDING else b""
            return
        complete, self._pending = buffered[:end], buffered[end + 2 :]
        if _MARK not in complete:
            return
        for event in complete.split(b"\n\n"):
            if _MARK in event:
                for line in event.split(b"\n"):
                    if line.startswith(b"data:") and _MARK in line:
                        self._take(line[5:])

    def _take(self, data: bytes) -> None:
        try:
            doc = _decode_doc(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        found, completion = _from_usage(_find_usage(doc))
        if found or completion:
            self._seen = True
            self._input = max(self._input, found)
            self._output = max(self._output, completion)

    def usage(self) -> tuple[int, int]:
        """(input, output) tokens: as reported, else estimated from the bytes of the request and the answer."""
        if self._seen:
            return self._input, self._output
        return self._request_bytes // 4, self._relayed // 4

    def tokens(self) -> int:
        return sum(self.usage())
