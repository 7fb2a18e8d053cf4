"""The session detail page: the session's facts and actions, then its requests as a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from lunaroute.recording.query import SessionDetail, TokenCounts
from lunaroute.ui.pages import _format as f
from lunaroute.ui.pages._conversation import ToolCall
from lunaroute.ui.pages._html import Child, Markup, el
from lunaroute.ui.pages._parts import render_parts, render_turn, text_block
from lunaroute.ui.pages._timeline import RequestView
from lunaroute.ui.pages._widgets import pager, status_badge, token_bar

__all__ = ["DetailOptions", "render_detail"]

PAGE_SIZE = 50
"""Requests shown per page of a long session."""


@dataclass(frozen=True, slots=True)
class DetailOptions:
    """What the page offers: export and deletion (when enabled in `ui`), which page of requests."""

    export_enabled: bool
    delete_enabled: bool
    page: int = 1


def _fact(label: str, value: Child) -> Markup:
    return el("div", {"class_": "fact"}, el("dt", None, label), el("dd", None, value))


def _tokens_title(tokens: TokenCounts) -> str:
    kinds = (
        ("input", tokens.input),
        ("output", tokens.output),
        ("thinking", tokens.thinking),
        ("reasoning", tokens.reasoning),
        ("cache read", tokens.cache_read),
        ("cache write", tokens.cache_creation),
    )
    return ", ".join(f"{name} {value:,}" for name, value in kinds if value)


def _actions(detail: SessionDetail, options: DetailOptions) -> Markup:
    sid = detail.summary.session_id
    links = []
    if options.export_enabled:
        for fmt, label in (("jsonl", "Export JSONL"), ("json", "Export JSON"), ("csv", "Export CSV")):
            href = f"/api/sessions/{sid}/export?format={fmt}"
            links.append(el("a", {"class_": "button", "href": href, "download": f"{sid}.{fmt}"}, label))
    if options.delete_enabled:
        links.append(
            el(
                "button",
                {"type": "button", "class_": "button danger", "id": "delete-session", "data_session": sid},
                "Delete",
            )
        )
    return el("div", {"class_": "actions"}, links) if links else Markup("")


def _providers(first: str, listener: str, views: Sequence[RequestView]) -> str:
    """The providers that answered (the first chosen one when nothing says otherwise), and the client's API."""
    names = list(dict.fromkeys([v.provider for v in views if v.provider] or [first]))
    text = ", ".join(names)
    return f"{text} (via the {listener} API)" if listener else text


def _requests_text(count: int, views: Sequence[RequestView]) -> str:
    failed = sum(v.success is False for v in views)
    fallbacks = sum(bool(v.attempts) for v in views)
    notes = [f"{failed:,} failed" if failed else "", f"{fallbacks:,} after a fallback" if fallbacks else ""]
    extra = ", ".join(n for n in notes if n)
    return f"{count:,} ({extra})" if extra else f"{count:,}"


def _header(detail: SessionDetail, views: Sequence[RequestView], options: DetailOptions) -> Markup:
    s = detail.summary
    tools: dict[str, int] = {}
    for t in detail.tools:
        tools[t.tool_name] = tools.get(t.tool_name, 0) + t.call_count
    tool_text = ", ".join(f"{name} ({n:,})" for name, n in sorted(tools.items(), key=lambda kv: -kv[1])) or f.DASH
    model = s.model_used or s.model_requested
    facts = el(
        "dl",
        {"class_": "facts"},
        _fact("Started", el("time", {"datetime": f.iso(s.started_at)}, f.instant(s.started_at))),
        _fact("Duration", f.duration_ms(s.total_duration_ms)),
        _fact("Client", s.user_agent or f.DASH),
        _fact("Provider", _providers(s.provider, s.listener, views)),
        _fact("Model", model if model == s.model_requested else f"{model} (asked for {s.model_requested})"),
        _fact("Requests", _requests_text(s.request_count or len(views), views)),
        _fact("Tokens", el("span", {"title": _tokens_title(s.tokens)}, f.count(s.total_tokens))),
        _fact("Cost", f.cost(s.cost_usd)),
        _fact("Time to first token", f.duration_ms(detail.time_to_first_token_ms)),
        _fact("Tools", tool_text),
    )
    error = el("p", {"class_": "error-text"}, s.error_message) if s.error_message else None
    return el(
        "header",
        {"class_": "session-head"},
        el(
            "nav",
            {"class_": "crumbs"},
            el("a", {"href": "/sessions"}, "Sessions"),
            " / ",
            el("code", None, s.session_id),
        ),
        el(
            "div",
            {"class_": "title-row"},
            el("h1", None, "Session"),
            status_badge(s.success, s.failed_requests),
            _actions(detail, options),
        ),
        facts,
        token_bar(s.tokens),
        error,
    )


def _metrics(v: RequestView) -> Markup:
    items: list[Child] = []
    if v.tokens is not None:
        estimated = " (estimated)" if v.tokens_estimated else ""
        items.append(el("span", {"title": _tokens_title(v.tokens)}, f"{v.tokens.total:,} tokens{estimated}"))
    if v.cost_usd is not None:
        items.append(f.cost(v.cost_usd))
    if v.ttft_ms is not None:
        items.append(el("span", {"title": "Time to first token"}, f"TTFT {f.duration_ms(v.ttft_ms)}"))
    if v.duration_ms is not None:
        items.append(el("span", {"title": "Total duration"}, f.duration_ms(v.duration_ms)))
    if v.tokens_per_second:
        items.append(f"{v.tokens_per_second:.0f} tok/s")
    return el("span", {"class_": "metrics"}, [el("span", None, i) for i in items])


def _attempts_title(v: RequestView) -> str:
    return f"Answered by {v.provider} after: {', '.join(a.describe() for a in v.attempts)}"


def _request(v: RequestView, sid: str, tool_names: dict[str, str]) -> Markup:
    raw = f"/api/sessions/{sid}/raw/{quote(v.request_id, safe='')}" if v.has_events and v.request_id else None
    head = el(
        "div",
        {"class_": "req-head"},
        el("a", {"class_": "req-no", "href": f"#req-{v.index}"}, f"#{v.index}"),
        el("time", {"datetime": f.iso(v.at)}, f.instant(v.at)),
        el("span", {"class_": "model"}, v.model or f.DASH),
        el("span", {"class_": "provider muted"}, v.provider) if v.provider else None,
        el("span", {"class_": "badge fallback", "title": _attempts_title(v)}, "fallback") if v.attempts else None,
        el("span", {"class_": "badge"}, "stream") if v.streaming else None,
        status_badge(v.success) if v.has_events and v.success is not True else None,
        _metrics(v),
        el("a", {"class_": "raw-link", "href": raw, "data_raw": raw, "target": "_blank", "rel": "noopener"}, "Raw JSON")
        if raw
        else None,
    )
    body: list[Child] = []
    if v.attempts:
        body.append(el("p", {"class_": "attempts muted"}, _attempts_title(v)))
    if v.system:
        chars = sum(len(getattr(p, "text", "")) for p in v.system)
        body.append(
            el(
                "details",
                {"class_": "system"},
                el("summary", None, f"System prompt ({chars:,} characters)"),
                render_parts(v.system, tool_names),
            )
        )
    if v.sent:
        earlier = v.message_count - len(v.sent)
        if earlier > 0:
            body.append(el("p", {"class_": "earlier"}, f"{earlier:,} earlier messages resent"))
        body.extend(render_turn(t, tool_names) for t in v.sent)
    if v.answer:
        body.append(_answer(v, tool_names))
    elif v.success is not False and v.has_events:
        body.append(el("p", {"class_": "muted"}, "No answer was recorded."))
    if v.error:
        body.append(el("div", {"class_": "error-text"}, text_block(v.error)))
    if v.tools_offered:
        body.append(el("p", {"class_": "offered muted"}, f"Tools offered: {', '.join(v.tools_offered)}"))
    content = el("div", {"class_": "req-body"}, body) if body else None
    return el("li", {"class_": "req", "id": f"req-{v.index}"}, head, content)


def _answer(v: RequestView, tool_names: dict[str, str]) -> Markup:
    """The assistant's answer of one request, with its finish reason."""
    finish = el("span", {"class_": "finish muted"}, f"finish: {v.finish_reason}") if v.finish_reason else None
    return el(
        "div",
        {"class_": "turn role-assistant answer"},
        el("div", {"class_": "role"}, "Assistant", finish),
        el("div", {"class_": "body"}, render_parts(v.answer, tool_names, markdown=True)),
    )


def _stored_text(role: str, label: str, text: str | None) -> Markup:
    if not text:
        return Markup("")
    return el(
        "div",
        {"class_": f"turn role-{role}"},
        el("div", {"class_": "role"}, label),
        el("div", {"class_": "body"}, el("div", {"class_": "part"}, text_block(text))),
    )


def _stored_texts(detail: SessionDetail, views: Sequence[RequestView]) -> Markup:
    """The session row's prompt and answer texts, when no request of the timeline shows any messages."""
    if not detail.request_text or any(v.sent for v in views):
        return Markup("")
    return el(
        "section",
        {"class_": "fallback"},
        el("p", {"class_": "muted"}, "The raw events of this session are not available; these are the stored texts."),
        _stored_text("user", "User", detail.request_text),
        _stored_text("assistant", "Assistant", detail.response_text),
    )


def render_detail(detail: SessionDetail, views: Sequence[RequestView], options: DetailOptions) -> Markup:
    """The page body for one session (`views` from `build_timeline`)."""
    tool_names = {p.call_id: p.name for v in views for p in v.answer if isinstance(p, ToolCall)}
    for v in views:
        for t in v.sent:
            tool_names.update({p.call_id: p.name for p in t.parts if isinstance(p, ToolCall)})
    pages = max(1, -(-len(views) // PAGE_SIZE))
    page = min(max(1, options.page), pages)
    shown = views[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    sid = detail.summary.session_id
    timeline: Child
    if shown:
        timeline = el("ol", {"class_": "timeline"}, [_request(v, sid, tool_names) for v in shown])
    else:
        timeline = el("p", {"class_": "empty"}, "No requests were recorded for this session.")
    nav = pager(f"/sessions/{sid}", {}, page, pages) if pages > 1 else None
    return el(
        "div",
        {"class_": "session"},
        _header(detail, views, options),
        _stored_texts(detail, views),
        el("h2", None, f"Timeline ({len(views):,} request{'' if len(views) == 1 else 's'})"),
        nav,
        timeline,
        nav,
    )
