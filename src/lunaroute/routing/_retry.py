"""Retry policy: is a failed upstream attempt worth repeating, and after how long.

Only attempts that failed before the first byte reached the client are ever retried (the pipeline's rule).
`RetryPolicy.classify` reads a response head, the start of its body, or the exception; `RetryPolicy.delay`
turns an attempt number and the upstream's `retry-after` into a wait, or None when the wait is not worth it.
Pure: the random source and the wall clock (for HTTP-date `retry-after`) are injected.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from lunaroute.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable
from lunaroute.types import Headers

__all__ = ["RetryPolicy", "Verdict", "first_sse_event_is_error", "parse_retry_after"]

_QUOTA_MARKERS = (
    # OpenAI: error.type `insufficient_quota`; error.code names the cause.
    b"insufficient_quota",
    b"credit_balance_exhausted",
    b"organization_spend_limit_exceeded",
    b"project_spend_limit_exceeded",
    b"organization_usage_limit_exceeded",
    b"billing_hard_limit_reached",
    b"you exceeded your current quota",
    # Anthropic: a monthly tier cap is a 429 `rate_limit_error` with details.error_code
    # `enforced_spend_limit_reached`; an empty balance is a 400 "Your credit balance is too low ...".
    b"enforced_spend_limit_reached",
    b"billing_error",
    b"credit balance is too low",
    b"reached your specified api usage limits",
    b"reached your specified workspace api usage limits",
)
"""Lower-case fragments of error bodies meaning the account is out of credit or quota: waiting will not help."""

_PERMANENT_EVENT_ERRORS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "invalid_api_key",
    }
)
"""Error types in a first SSE event that another attempt with the same request would meet again."""

_SECONDS = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to retry (or fail over) and why.

    `reason`: `connect_error`, `timeout`, `upstream_error`, `rate_limited`, `overloaded`, `quota_exhausted`,
    `first_event_error`, `status_<code>` (e.g. `status_503`), `ok`, or `error` (an exception that is not an
    upstream fault). `detail` is the upstream's error type when one was read (e.g. `overloaded_error`).
    `retry_after` / `retry_after_ms` are the raw headers, for `RetryPolicy.delay`.
    """

    retryable: bool
    reason: str
    detail: str | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter (a uniform wait in [0, backoff])."""

    max_retries: int = 2
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    jitter: bool = True
    retry_on_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504, 529})
    max_retry_after_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("retry counts and delays must be >= 0")

    def classify(
        self,
        status: int | None,
        headers: Headers = (),
        body_prefix: bytes = b"",
        error: BaseException | None = None,
    ) -> Verdict:
        """Judge one attempt: `error` when no response head arrived, else `status`, `headers` and the first
        bytes of the body (for a 200 event stream, the first event; for an error status, its JSON body)."""
        if error is not None:
            return _classify_error(error)
        if status is None:
            return Verdict(False, "error")
        retry_after = _header(headers, "retry-after")
        retry_after_ms = _header(headers, "retry-after-ms")
        if 200 <= status < 300:
            kind = first_sse_event_is_error(body_prefix)
            if kind is None:
                return Verdict(False, "ok")
            if _is_quota(body_prefix):
                return Verdict(False, "quota_exhausted", kind)
            return Verdict(kind not in _PERMANENT_EVENT_ERRORS, "first_event_error", kind)
        if status >= 400 and _is_quota(body_prefix):
            return Verdict(False, "quota_exhausted", None, retry_after, retry_after_ms)
        reason = {429: "rate_limited", 529: "overloaded"}.get(status, f"status_{status}")
        return Verdict(status in self.retry_on_statuses, reason, None, retry_after, retry_after_ms)

    def delay(
        self,
        attempt: int,
        retry_after: str | None = None,
        remaining_s: float | None = None,
        *,
        retry_after_ms: str | None = None,
    ) -> float | None:
        """Seconds to wait before retry number `attempt` (1 = the first retry), or None: do not retry.

        The upstream's wait (`retry-after-ms`, else `retry-after` in seconds or as an HTTP-date) replaces the
        backoff when given and valid. None when `attempt` exceeds `max_retries`, the upstream's wait exceeds
        `max_retry_after_s`, or the wait would not end before the request's deadline (`remaining_s`).
        """
        if attempt < 1 or attempt > self.max_retries:
            return None
        told = _parse_ms(retry_after_ms) if retry_after_ms is not None else None
        if told is None and retry_after is not None:
            told = parse_retry_after(retry_after, now=self.wall_clock())
        if told is not None:
            if told > self.max_retry_after_s:
                return None
            wait = told
        else:
            backoff = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
            wait = self.rng.uniform(0.0, backoff) if self.jitter else backoff
        if remaining_s is not None and wait >= remaining_s:
            return None
        return wait


def parse_retry_after(value: str, *, now: float) -> float | None:
    """A `retry-after` value in seconds from `now` (wall clock): delta-seconds or an HTTP-date (a past date
    gives 0). None for a value that is neither."""
    value = value.strip()
    if _SECONDS.fullmatch(value):
        seconds = float(value)
        return seconds if seconds < float("inf") else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def _parse_ms(value: str) -> float | None:
    value = value.strip()
    return float(value) / 1000.0 if _SECONDS.fullmatch(value) else None


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k == name), None)


def _is_quota(body: bytes) -> bool:
    lowered = body.lower()
    return any(marker in lowered for marker in _QUOTA_MARKERS)


def _classify_error(error: BaseException) -> Verdict:
    # UpstreamTimeout before UpstreamUnreachable: both derive from UpstreamError.
    if isinstance(error, UpstreamTimeout | TimeoutError):
        return Verdict(True, "timeout")
    if isinstance(error, UpstreamUnreachable | ConnectionError):
        return Verdict(True, "connect_error")
    if isinstance(error, UpstreamError):
        return Verdict(True, "upstream_error")
    return Verdict(False, "error")


class _ErrorBody(msgspec.Struct):
    type: str | None = None
    code: str | int | None = None


class _FirstEvent(msgspec.Struct):
    """An Anthropic `{"type":"error","error":{...}}`, an OpenAI `{"error":{...}}` or a Responses
    `{"type":"error","code":...}` event; other fields are skipped."""

    type: str | None = None
    error: _ErrorBody | str | None = None
    code: str | int | None = None


_event_decoder = msgspec.json.Decoder(_FirstEvent)
_OPENAI_ERROR_START = re.compile(rb'\A\s*\{\s*"error"\s*:')


def first_sse_event_is_error(first_bytes: bytes) -> str | None:
    """The error type when the first event of an SSE stream is an error, else None.

    Recognises Anthropic `event: error` (returns `error.type`, e.g. `overloaded_error`), OpenAI chat
    `data: {"error": {...}}` (returns `error.type`, else `error.code`, else `error`) and Responses
    `{"type": "error", "code": ...}`. Comments, a BOM and CRLF/CR line endings are handled; an event cut
    off mid-JSON is still recognised by its `event: error` line or its opening `{"error":`.
    """
    text = first_bytes.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    event_name: bytes | None = None
    data: list[bytes] = []
    for line in text.split(b"\n"):
        if not line:
            if event_name is not None or data:
                break
            continue
        if line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"event":
            event_name = value.strip()
        elif name == b"data":
            data.append(value)
    payload = b"\n".join(data)
    try:
        event: _FirstEvent | None = _event_decoder.decode(payload) if payload else None
    except msgspec.DecodeError:
        event = None
    if event is None:
        if event_name == b"error" or _OPENAI_ERROR_START.match(payload):
            return "error"
        return None
    if event_name not in (None, b"error") and event.type != "error":
        return None
    if event_name != b"error" and event.type != "error" and event.error is None:
        return None
    if isinstance(event.error, _ErrorBody):
        return event.error.type or (str(event.error.code) if event.error.code is not None else "error")
    if event.code is not None:
        return str(event.code)
    return "error"
