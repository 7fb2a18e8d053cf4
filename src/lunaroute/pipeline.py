"""The one orchestrator: an inbound request goes through markers and routing to a provider, with retries and
fallbacks before the first byte, and comes back as an `Outbound` the server relays.

When the chosen provider speaks the client's dialect the body goes as its own bytes (passthrough; only `model`
may be patched); otherwise it is translated both ways through `lunaroute.model` (`lunaroute.calls`).
Retries and failover happen only before anything went to the client: an error status or a failed connection,
or, while a retry or fallback is left, an error as the first event of a stream (the first event is awaited for
at most `routing.first_event_peek_ms` before the stream is committed). With nothing left to try, the
provider's own answer is passed on unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass

from lunaroute.calls import CLIENT_GONE, Inbound, Outbound, send_to
from lunaroute.config import SwitchNotificationConfig
from lunaroute.errors import Overloaded, UpstreamError, UpstreamTimeout
from lunaroute.observability import Metrics
from lunaroute.providers._buffered import BufferedResponse, peek_first_chunk
from lunaroute.recording._tap import RecordingTap
from lunaroute.responses import ResponseStore
from lunaroute.routing import MARKER_BYTES, PROVIDER_HEADER, Router, find_marker
from lunaroute.routing._notify import inject_notice, render_notice
from lunaroute.routing._resilience import Resilience
from lunaroute.routing._retry import Verdict, first_sse_event_is_error
from lunaroute.routing._sticky import session_key_for
from lunaroute.types import Endpoint, Provider, UpstreamResponse

__all__ = ["Inbound", "Outbound", "Pipeline"]

_MARKED = frozenset({Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.ANTHROPIC_COUNT_TOKENS})
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(slots=True)
class _Attempted:
    """The result of one attempt: an answer to keep or to discard, or the error that ended it."""

    outbound: Outbound | None
    error: UpstreamError | None
    verdict: Verdict | None


def _provider_failed(verdict: Verdict) -> bool:
    """Whether another provider may do better: the failure was the provider's (or its account's), not the
    request's. A quota error is never retried on the same provider but may fail over."""
    return verdict.retryable or verdict.reason == "quota_exhausted"


def _status_of(result: _Attempted) -> int | None:
    return result.outbound.response.status if result.outbound is not None else None


def _reason_of(result: _Attempted) -> str:
    """Why an attempt was given up, as recorded: the verdict's reason, else the error's code and message."""
    if result.verdict is not None and result.verdict.reason:
        reason = result.verdict.reason
        if result.error is not None:
            reason = f"{reason}: {result.error}"
        return reason
    return str(result.error) if result.error is not None else "error"


def _is_html_page(response: UpstreamResponse, inbound: Inbound) -> bool:
    if inbound.route.bypass:
        return False
    content_type = next((v for k, v in response.headers if k == "content-type"), "")
    return content_type.lstrip().lower().startswith("text/html")


class Pipeline:
    """Markers → router → provider chain (breakers, retries, fallbacks) → an answer to relay."""

    def __init__(
        self,
        router: Router,
        metrics: Metrics,
        resilience: Resilience,
        *,
        notification: SwitchNotificationConfig | None = None,
        first_event_peek_s: float = 2.0,
    ) -> None:
        self.router = router
        self.resilience = resilience
        self._metrics = metrics
        self._notification = notification
        self._peek_s = first_event_peek_s
        self.responses: ResponseStore | None = None
        """Where translated Responses are kept for `previous_response_id` (set by `create_app`; None: not kept)."""

    async def send(self, inbound: Inbound, tap: RecordingTap | None = None) -> Outbound:
        """The answer to relay. Raises gateway errors (`lunaroute.errors`) when no provider gave one."""
        endpoint = inbound.route.endpoint
        requested = next((v for k, v in inbound.headers if k == PROVIDER_HEADER), None)
        body, marker = inbound.body, None
        if endpoint in _MARKED and MARKER_BYTES in body:
            found = find_marker(body)
            if found is not None:
                body, marker = found.body, found.provider
        inbound.span.set_request(model=inbound.model, request_id=inbound.request_id)
        with inbound.span.routing():
            decision = self.router.decide(
                inbound.dialect,
                model=inbound.model,
                bypass=inbound.route.bypass,
                requested=requested,
                marker=marker,
                path=inbound.route.upstream_path,
                headers=inbound.headers,
                session_key=lambda: session_key_for(inbound.headers, inbound.body),
            )
        self._metrics.overhead_seen(inbound.dialect, endpoint.value, time.perf_counter() - inbound.started)
        deadline = self._deadline(decision.primary.name)
        if deadline is None:
            return await self._through_chain(inbound, decision.chain, decision.reason, body, tap)
        try:
            async with asyncio.timeout_at(deadline):
                outbound = await self._through_chain(inbound, decision.chain, decision.reason, body, tap, deadline)
            outbound.deadline = deadline
            return outbound
        except TimeoutError:
            raise UpstreamTimeout("the request's total deadline passed before an answer arrived") from None

    def _deadline(self, provider: str) -> float | None:
        total = self.resilience.policy(provider).total_timeout_s
        return None if total is None else asyncio.get_running_loop().time() + total

    async def _through_chain(
        self,
        inbound: Inbound,
        chain: tuple[Provider, ...],
        reason: str,
        body: bytes,
        tap: RecordingTap | None,
        deadline: float | None = None,
    ) -> Outbound:
        last_error: UpstreamError | None = None
        skipped: list[str] = []
        for position, provider in enumerate(chain):
            if not self.resilience.allow(provider.name):
                skipped.append(provider.name)
                self._metrics.breaker_skipped(provider.name)
                if tap is not None:
                    tap.gave_up(provider.name, None, "circuit_open")
                continue
            attempt_body = body
            if position > 0 and self._notification is not None and self._notification.enabled:
                attempt_body = self._notified(inbound, body, chain[0].name, provider.name)
            has_next = position < len(chain) - 1
            result = await self._with_retries(inbound, provider, attempt_body, has_next, tap, deadline)
            if result.outbound is not None and result.verdict is None:
                result.outbound.reason = reason if position == 0 else "fallback"
                return result.outbound
            why = result.verdict.reason if result.verdict is not None else "error"
            if has_next and (result.verdict is None or _provider_failed(result.verdict)):
                self._metrics.fell_back(provider.name, chain[position + 1].name, why)
                if tap is not None:
                    tap.gave_up(provider.name, _status_of(result), _reason_of(result))
                if result.outbound is not None:
                    result.outbound.close()
                last_error = result.error or last_error
                continue
            # Nothing left to try: the provider's own answer (or its error) goes to the client unchanged.
            if result.outbound is not None:
                result.outbound.reason = reason if position == 0 else "fallback"
                return result.outbound
            assert result.error is not None
            raise result.error
        if last_error is not None:
            raise last_error
        raise Overloaded(
            f"every provider for this request is unavailable (circuit open: {', '.join(skipped)})",
            retry_after=self._cooldown(),
        )

    def _cooldown(self) -> float | None:
        breakers = self.resilience.breakers
        return next(iter(breakers.values())).config.cooldown_secs if breakers else None

    def _notified(self, inbound: Inbound, body: bytes, original: str, new: str) -> bytes:
        assert self._notification is not None
        notice = render_notice(
            self._notification.default_message, original=original, new=new, reason="fallback", model=inbound.model
        )
        return inject_notice(body, inbound.dialect, notice)

    async def _with_retries(
        self,
        inbound: Inbound,
        provider: Provider,
        body: bytes,
        has_next: bool,
        tap: RecordingTap | None,
        deadline: float | None,
    ) -> _Attempted:
        policy = self.resilience.policy(provider.name).retry
        attempt = 0
        while True:
            more = attempt < policy.max_retries or has_next
            result = await self._attempt(inbound, provider, body, more, tap)
            if result.verdict is None or not result.verdict.retryable:
                return result
            if attempt >= policy.max_retries:
                return result
            attempt += 1
            remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
            wait = policy.delay(
                attempt, result.verdict.retry_after, remaining, retry_after_ms=result.verdict.retry_after_ms
            )
            if wait is None:
                return result
            # The failed answer stays usable while we wait: if the retry cannot happen, it is what we pass on.
            await asyncio.sleep(wait)
            if not self.resilience.allow(provider.name):
                return result
            self._metrics.retried(provider.name, result.verdict.reason)
            if tap is not None:
                tap.gave_up(provider.name, _status_of(result), _reason_of(result))
            if result.outbound is not None:
                result.outbound.close()

    async def _attempt(
        self, inbound: Inbound, provider: Provider, body: bytes, more: bool, tap: RecordingTap | None
    ) -> _Attempted:
        """One call; judged (and its error body or first event looked at) only when something is left to try."""
        in_flight = self.resilience.in_flight
        in_flight.acquire(provider.name)
        started = time.perf_counter()
        policy = self.resilience.policy(provider.name).retry
        attempt = inbound.span.upstream(
            provider.name, system=provider.dialect, model=self.router.models.get(provider.name) or inbound.model
        )
        try:
            outbound = await send_to(
                provider,
                inbound,
                body,
                model=self.router.models.get(provider.name),
                default_max_tokens=self.router.max_tokens.get(provider.name, 4096),
                metrics=self._metrics,
                tap=tap,
                span=inbound.span,
                responses=self.responses,
            )
        except UpstreamError as exc:
            attempt.record_error(exc)
            attempt.end()
            in_flight.release(provider.name)
            self._metrics.upstream_error(provider.name, exc.code or "error")
            failure = policy.classify(None, error=exc)
            self.resilience.failed(provider.name, failure.reason)
            return _Attempted(None, exc, failure)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                attempt.record_error(exc)
            attempt.end()
            in_flight.release(provider.name)
            self.resilience.abandoned(provider.name)
            raise
        self._metrics.upstream_head(provider.name, time.perf_counter() - outbound.sent_at)
        # Busy (and its span open) until the relay closes the response (`Outbound.close`).
        status = outbound.response.status

        def released() -> None:
            in_flight.release(provider.name)
            attempt.end(status)

        outbound.on_close = released
        response = outbound.response
        if _is_html_page(response, inbound):
            # A CDN or proxy error page where an API answer belongs: never passed on as it is.
            outbound.close()
            error = UpstreamError(f"provider {provider.name!r} answered with an HTML page instead of the API")
            failure = policy.classify(None, error=error)
            self.resilience.failed(provider.name, failure.reason)
            return _Attempted(None, error, failure)
        verdict: Verdict | None = None
        if response.status >= 400:
            if more and response.status in policy.retry_on_statuses:
                error_body = await response.read()
                outbound.response = BufferedResponse(response, error_body)
                verdict = policy.classify(response.status, response.headers, error_body[:4096])
            else:
                verdict = policy.classify(response.status, response.headers)
            if not _provider_failed(verdict):
                # The request was refused (400, 401, 404...): the provider works; this is the answer.
                self.resilience.succeeded(provider.name, time.perf_counter() - started)
                return _Attempted(outbound, None, None)
            self.resilience.failed(provider.name, verdict.reason)
            return _Attempted(outbound, None, verdict)
        if more and response.is_event_stream and self._peek_s > 0:
            peeked, first = await peek_first_chunk(response, self._peek_s)
            outbound.response = peeked
            error_type = first_sse_event_is_error(first) if first is not None else None
            if error_type is not None:
                verdict = policy.classify(response.status, response.headers, first or b"")
                if _provider_failed(verdict):
                    self.resilience.failed(provider.name, verdict.reason)
                    return _Attempted(outbound, None, verdict)
        latency = time.perf_counter() - started
        if outbound.response.is_event_stream:
            # The verdict waits for the stream's end: a stream that breaks off counts against the provider.
            outbound.on_end = functools.partial(self._stream_ended, provider.name, latency)
            return _Attempted(outbound, None, None)
        self.resilience.succeeded(provider.name, latency)
        return _Attempted(outbound, None, None)

    def _stream_ended(self, provider: str, latency_s: float, failure: str | None) -> None:
        if failure is None:
            self.resilience.succeeded(provider, latency_s)
        elif failure == CLIENT_GONE:
            self.resilience.abandoned(provider)
        else:
            self.resilience.failed(provider, failure)
