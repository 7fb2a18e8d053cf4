"""Retry policy: what is retryable and why, first-event errors, backoff with jitter, retry-after."""

from __future__ import annotations

import email.utils
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunaroute.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable
from lunaroute.routing._retry import RetryPolicy, Verdict, first_sse_event_is_error, parse_retry_after

NOW = 1_700_000_000.0

OPENAI_QUOTA = (
    b'{"error": {"message": "You exceeded your current quota, please check your plan and billing details.",'
    b' "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}'
)
OPENAI_CREDIT = (
    b'{"error": {"message": "...", "type": "insufficient_quota", "param": null, "code": "credit_balance_exhausted"}}'
)
OPENAI_RATE = (
    b'{"error": {"message": "Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): '
    b'Limit 500, Used 500, Requested 1.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}'
)
ANTHROPIC_SPEND = (
    b'{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your monthly spend limit.",'
    b'"details":{"error_code":"enforced_spend_limit_reached"}}}'
)
ANTHROPIC_RATE = (
    b'{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit '
    b'for your organization of 50 requests per minute."}}'
)
ANTHROPIC_CREDIT = (
    b'{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access '
    b'the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}'
)
ANTHROPIC_OVERLOADED_EVENT = (
    b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
)


class Fixed(random.Random):
    """`uniform(a, b)` returns `a + share * (b - a)`."""

    def __init__(self, share: float) -> None:
        super().__init__(0)
        self.share = share

    def uniform(self, a: float, b: float) -> float:
        return a + self.share * (b - a)


def policy(share: float = 1.0, **overrides: object) -> RetryPolicy:
    return RetryPolicy(rng=Fixed(share), wall_clock=lambda: NOW, **overrides)  # type: ignore[arg-type]


# --- classify -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (UpstreamUnreachable("refused"), "connect_error"),
        (ConnectionRefusedError(), "connect_error"),
        (ConnectionResetError(), "connect_error"),
        (UpstreamTimeout("connect timeout"), "timeout"),
        (TimeoutError(), "timeout"),
        (UpstreamError("text/html from a CDN"), "upstream_error"),
    ],
)
def test_transport_errors_are_retryable(error: Exception, reason: str) -> None:
    assert RetryPolicy().classify(None, error=error) == Verdict(True, reason)


def test_other_exceptions_are_not() -> None:
    assert RetryPolicy().classify(None, error=ValueError("bug")) == Verdict(False, "error")
    assert RetryPolicy().classify(None) == Verdict(False, "error")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (408, "status_408"),
        (500, "status_500"),
        (502, "status_502"),
        (503, "status_503"),
        (504, "status_504"),
        (529, "overloaded"),
        (429, "rate_limited"),
    ],
)
def test_retryable_statuses(status: int, reason: str) -> None:
    verdict = RetryPolicy().classify(status, [("retry-after", "7")], b'{"error": {}}')
    assert verdict == Verdict(True, reason, retry_after="7")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501])
def test_other_statuses_are_not_retryable(status: int) -> None:
    assert RetryPolicy().classify(status) == Verdict(False, f"status_{status}")


def test_retry_on_statuses_is_configurable() -> None:
    narrow = RetryPolicy(retry_on_statuses=frozenset({503}))
    assert not narrow.classify(500).retryable
    assert narrow.classify(503).retryable


@pytest.mark.parametrize("body", [OPENAI_RATE, ANTHROPIC_RATE, b"", b"<html>Too Many Requests</html>"])
def test_a_plain_429_is_rate_limited(body: bytes) -> None:
    headers = [("retry-after", "7"), ("retry-after-ms", "6500")]
    assert RetryPolicy().classify(429, headers, body) == Verdict(True, "rate_limited", None, "7", "6500")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, OPENAI_QUOTA),
        (429, OPENAI_CREDIT),
        (429, b'{"error":{"type":"insufficient_quota","code":"project_spend_limit_exceeded"}}'),
        (429, ANTHROPIC_SPEND),
        (400, ANTHROPIC_CREDIT),
        (402, b'{"type":"error","error":{"type":"billing_error","message":"..."}}'),
    ],
)
def test_quota_exhausted_is_never_retried(status: int, body: bytes) -> None:
    verdict = RetryPolicy().classify(status, [("retry-after", "1")], body)
    assert (verdict.retryable, verdict.reason) == (False, "quota_exhausted")


def test_a_healthy_stream_or_body_is_ok() -> None:
    start = b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}\n\n'
    assert RetryPolicy().classify(200, body_prefix=start) == Verdict(False, "ok")
    assert RetryPolicy().classify(200, body_prefix=b'{"id": "chatcmpl-1"}') == Verdict(False, "ok")


def test_a_200_whose_first_event_is_an_error_is_retryable() -> None:
    verdict = RetryPolicy().classify(200, [("content-type", "text/event-stream")], ANTHROPIC_OVERLOADED_EVENT)
    assert verdict == Verdict(True, "first_event_error", "overloaded_error")
    openai = b'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'
    assert RetryPolicy().classify(200, body_prefix=openai) == Verdict(True, "first_event_error", "server_error")


def test_a_first_event_error_about_the_request_is_not_retryable() -> None:
    event = b'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad"}}\n\n'
    assert RetryPolicy().classify(200, body_prefix=event) == Verdict(
        False, "first_event_error", "invalid_request_error"
    )
    quota = b"data: " + OPENAI_QUOTA + b"\n\n"
    assert RetryPolicy().classify(200, body_prefix=quota).reason == "quota_exhausted"


# --- first_sse_event_is_error ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "kind"),
    [
        (ANTHROPIC_OVERLOADED_EVENT, "overloaded_error"),
        (ANTHROPIC_OVERLOADED_EVENT.replace(b"\n", b"\r\n"), "overloaded_error"),
        (ANTHROPIC_OVERLOADED_EVENT.replace(b"\n", b"\r"), "overloaded_error"),
        (b"\xef\xbb\xbf" + ANTHROPIC_OVERLOADED_EVENT, "overloaded_error"),
        (b": keep-alive\n\n" + ANTHROPIC_OVERLOADED_EVENT, "overloaded_error"),
        (b'event: error\ndata: {"type":"error","err', "error"),  # cut off mid-JSON
        (b"event: error\n", "error"),
        (b'data: {"error": {"message": "x", "type": "server_error", "code": null}}\n\n', "server_error"),
        (b'data: {"error": {"message": "x", "type": null, "code": "rate_limit_exceeded"}}\n\n', "rate_limit_exceeded"),
        (b'data: {"error": {"message": "x"}}\n\n', "error"),
        (b'data: {"error": "upstream exploded"}\n\n', "error"),
        (b'data: {"error": {"message": "cut', "error"),
        (b'event: error\ndata: {"type":"error","code":"server_error","message":"x"}\n\n', "server_error"),
        (b'data: {"type":"error","code":"rate_limit_exceeded","message":"x","param":null}\n\n', "rate_limit_exceeded"),
    ],
)
def test_first_event_errors(stream: bytes, kind: str) -> None:
    assert first_sse_event_is_error(stream) == kind


@pytest.mark.parametrize(
    "stream",
    [
        b"",
        b": ping\n\n",
        b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n',
        b'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"hi"}}]}\n\n',
        b'data: {"id":"chatcmpl-1","choices":[],"error":null}\n\n',
        b"data: [DONE]\n\n",
        b'event: response.created\ndata: {"type":"response.created","response":{}}\n\n',
        b"data: not json\n\n",
        b'{"id": "msg_1", "type": "message"}',
        b"<html>ok</html>",
    ],
)
def test_first_event_is_not_an_error(stream: bytes) -> None:
    assert first_sse_event_is_error(stream) is None


@given(st.binary(max_size=300))
def test_first_event_never_raises(data: bytes) -> None:
    result = first_sse_event_is_error(data)
    assert result is None or isinstance(result, str)


# --- delay ----------------------------------------------------------------------------------------------------


def test_defaults() -> None:
    default = RetryPolicy()
    assert (default.max_retries, default.base_delay_s, default.max_delay_s) == (2, 0.25, 8.0)
    assert default.retry_on_statuses == {408, 429, 500, 502, 503, 504, 529}
    assert (default.max_retry_after_s, default.jitter) == (60.0, True)


def test_exponential_backoff_capped() -> None:
    top = policy(1.0, max_retries=10)
    assert [top.delay(n) for n in range(1, 9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy(0.0).delay(2) == 0.0
    assert policy(0.5, jitter=False).delay(2) == 0.5  # no jitter: the full backoff


def test_no_more_than_max_retries() -> None:
    assert policy().delay(2) is not None
    assert policy().delay(3) is None
    assert policy().delay(0) is None
    assert policy(max_retries=0).delay(1) is None


@given(st.integers(0, 2**32), st.integers(1, 6))
def test_full_jitter_stays_within_the_backoff(seed: int, attempt: int) -> None:
    jittered = RetryPolicy(max_retries=6, rng=random.Random(seed))
    wait = jittered.delay(attempt)
    assert wait is not None
    assert 0.0 <= wait <= min(8.0, 0.25 * 2 ** (attempt - 1))


def test_jitter_spreads_waits() -> None:
    jittered = RetryPolicy(rng=random.Random(42))
    waits = {jittered.delay(2) for _ in range(50)}
    assert len(waits) == 50


def test_retry_after_seconds_replaces_the_backoff() -> None:
    assert policy().delay(1, "7") == 7.0
    assert policy().delay(1, " 0 ") == 0.0
    assert policy().delay(1, "1.5") == 1.5


def test_retry_after_must_fit_the_deadline() -> None:
    assert policy().delay(1, "7", remaining_s=30.0) == 7.0
    assert policy().delay(1, "7", remaining_s=5.0) is None
    assert policy().delay(1, "7", remaining_s=7.0) is None
    assert policy(1.0).delay(2, None, remaining_s=0.4) is None  # the backoff itself (0.5 s) does not fit
    assert policy(1.0).delay(2, None, remaining_s=0.6) == 0.5


def test_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    assert policy().delay(1, "60") == 60.0
    assert policy().delay(1, "61") is None
    assert policy(max_retry_after_s=3600).delay(1, "120") == 120.0


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(NOW + 12, usegmt=True)
    assert policy().delay(1, when) == pytest.approx(12.0)
    past = email.utils.formatdate(NOW - 100, usegmt=True)
    assert policy().delay(1, past) == 0.0
    far = email.utils.formatdate(NOW + 3600, usegmt=True)
    assert policy().delay(1, far) is None


def test_retry_after_ms_wins() -> None:
    assert policy().delay(1, "7", retry_after_ms="1500") == 1.5
    assert policy().delay(1, None, retry_after_ms="250") == 0.25
    assert policy().delay(1, "7", retry_after_ms="soon") == 7.0  # invalid ms: the seconds header


@pytest.mark.parametrize("junk", ["soon", "-3", "", "1e3", "inf", "nan", "Mon, 99 Foo 2024 00:00:00 GMT"])
def test_invalid_retry_after_falls_back_to_the_backoff(junk: str) -> None:
    assert policy(1.0).delay(1, junk) == 0.25


def test_verdict_carries_the_headers_to_delay() -> None:
    verdict = policy().classify(429, [("retry-after", "3"), ("x-other", "y")], ANTHROPIC_RATE)
    assert policy().delay(1, verdict.retry_after, 10.0, retry_after_ms=verdict.retry_after_ms) == 3.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", now=NOW) == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00", now=NOW) is None  # no zone: not an HTTP-date
    assert parse_retry_after("tomorrow", now=NOW) is None


def test_policy_validation() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        RetryPolicy(max_retries=-1)
