"""A session's requests as a timeline: the recorded events and database rows joined per request. Pure.

Each request's view comes from its JSONL events (what was sent, what came back, timings, outcome) and its
`session_stats` row (tokens, as the dashboard counts them). Without events (no JSONL tree configured, or
the files were removed) the rows alone give the timeline, without messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    StreamStarted,
)
from lunaroute.recording.query import AttemptRow, PriceFn, RequestRow, SessionDetail, TokenCounts
from lunaroute.ui.pages._conversation import Part, Turn, new_turns, read_request, read_response

__all__ = ["RequestView", "build_timeline"]


@dataclass(frozen=True, slots=True)
class RequestView:
    """One request of the session as the detail page shows it (1-based `index` in recording order).

    `system` is set when the instructions differ from the previous request's; `sent` holds the turns the
    request added to the conversation (`message_count` counts all it carried); `has_events` tells whether
    its raw JSON can be fetched.
    """

    index: int
    request_id: str
    at: dt.datetime | None
    model: str
    provider: str
    streaming: bool
    system: tuple[Part, ...] = ()
    tools_offered: tuple[str, ...] = ()
    sent: tuple[Turn, ...] = ()
    message_count: int = 0
    answer: tuple[Part, ...] = ()
    tokens: TokenCounts | None = None
    tokens_estimated: bool = False
    cost_usd: float | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None
    provider_latency_ms: int | None = None
    tokens_per_second: float | None = None
    success: bool | None = None
    error: str | None = None
    finish_reason: str | None = None
    has_events: bool = False
    attempts: tuple[AttemptRow, ...] = ()
    """Upstream attempts given up before `provider` answered (retries, fallbacks)."""


@dataclass(slots=True)
class _Events:
    started: Started | None = None
    request: RequestRecorded | None = None
    stream: StreamStarted | None = None
    response: ResponseRecorded | None = None
    completed: Completed | None = None
    model_used: str | None = None
    at: dt.datetime | None = None


def _group(events: Sequence[SessionEvent]) -> dict[str, _Events]:
    """Events per request id, in the order the requests first appear."""
    out: dict[str, _Events] = {}
    for ev in events:
        g = out.setdefault(ev.request_id, _Events(at=ev.timestamp))
        match ev:
            case Started():
                g.started, g.at = ev, ev.timestamp
            case RequestRecorded():
                g.request = ev
            case StreamStarted():
                g.stream = ev
            case ResponseRecorded():
                g.response = ev
                g.model_used = ev.model_used or g.model_used
            case Completed():
                g.completed = ev
            case StatsUpdated():
                g.model_used = ev.model_used or g.model_used
    return out


def _response_tokens(resp: ResponseRecorded) -> TokenCounts:
    return TokenCounts(
        input=resp.input_tokens,
        output=resp.output_tokens,
        thinking=resp.thinking_tokens or 0,
        reasoning=resp.reasoning_tokens or 0,
        cache_read=resp.cache_read_tokens or 0,
        cache_creation=resp.cache_creation_tokens or 0,
        audio_input=resp.audio_input_tokens or 0,
        audio_output=resp.audio_output_tokens or 0,
    )


def _price(price: PriceFn | None, provider: str, model: str, tokens: TokenCounts | None) -> float | None:
    return price(provider, model, tokens) if price is not None and tokens is not None and model else None


def _from_row(index: int, row: RequestRow, detail: SessionDetail, price: PriceFn | None) -> RequestView:
    provider = row.provider or detail.summary.provider
    ttft = {m.request_id: m.time_to_first_token_ms for m in detail.stream_metrics}
    return RequestView(
        index=index,
        request_id=row.request_id or "",
        at=row.created_at,
        model=row.model_name,
        provider=provider,
        streaming=row.request_id in ttft,
        message_count=row.message_count or 0,
        tokens=row.tokens,
        cost_usd=_price(price, provider, row.model_name, row.tokens),
        ttft_ms=ttft.get(row.request_id or ""),
        tokens_per_second=row.tokens_per_second,
        success=row.success,
        attempts=row.attempts,
    )


def build_timeline(
    detail: SessionDetail, events: Sequence[SessionEvent], price: PriceFn | None
) -> tuple[RequestView, ...]:
    """Every request of the session, oldest first (see the module docstring for where each figure comes from)."""
    rows = {r.request_id: r for r in detail.requests if r.request_id}
    groups = _group(events)
    if not groups:
        return tuple(_from_row(i, r, detail, price) for i, r in enumerate(detail.requests, 1))
    metrics = {m.request_id: m for m in detail.stream_metrics}
    views: list[RequestView] = []
    previous_system: tuple[Part, ...] = ()
    for index, (rid, g) in enumerate(groups.items(), 1):
        row = rows.get(rid)
        conversation = read_request(g.request.request_json) if g.request else None
        system = conversation.system if conversation else ()
        done = g.completed
        provider = (
            (done.provider if done else None)
            or (row.provider if row else None)
            or (g.started.provider if g.started else detail.summary.provider)
        )
        attempts = (
            tuple(AttemptRow(provider=a.provider, status=a.status, reason=a.reason) for a in done.attempts)
            if done and done.attempts
            else row.attempts
            if row
            else ()
        )
        model = g.model_used or (row.model_name if row else "") or (g.started.model_requested if g.started else "")
        resp = g.response
        tokens = row.tokens if row else _response_tokens(resp) if resp else None
        ttft = g.stream.time_to_first_token_ms if g.stream else None
        if ttft is None and rid in metrics:
            ttft = metrics[rid].time_to_first_token_ms
        views.append(
            RequestView(
                index=index,
                request_id=rid,
                at=g.at,
                model=model,
                provider=provider,
                streaming=g.started.is_streaming if g.started else g.stream is not None,
                system=system if system != previous_system else (),
                tools_offered=conversation.tools if conversation else (),
                sent=new_turns(conversation, first=index == 1) if conversation else (),
                message_count=len(conversation.turns) if conversation else 0,
                answer=read_response(resp.response_json) if resp else (),
                tokens=tokens,
                tokens_estimated=bool(resp and resp.tokens_estimated),
                cost_usd=_price(price, provider, model, tokens),
                ttft_ms=ttft,
                duration_ms=done.total_duration_ms if done else None,
                provider_latency_ms=resp.provider_latency_ms if resp else None,
                tokens_per_second=row.tokens_per_second if row else resp.tokens_per_second if resp else None,
                success=done.success if done else None,
                error=done.error if done else None,
                finish_reason=done.finish_reason if done else None,
                has_events=True,
                attempts=attempts,
            )
        )
        previous_system = system
    return tuple(views)
