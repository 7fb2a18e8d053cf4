"""The session list page: the filter form, one table row per session, and links between pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from lunaroute.recording.query import SessionPage, SessionSummary, SortKey
from lunaroute.ui.pages import _format as f
from lunaroute.ui.pages._html import Child, Markup, el
from lunaroute.ui.pages._widgets import status_badge

__all__ = ["FILTER_KEYS", "ORDER_KEYS", "ListView", "render_sessions"]

FILTER_KEYS = (
    "since",
    "until",
    "model",
    "provider",
    "user_agent",
    "success",
    "min_tokens",
    "tool",
    "key",
    "team",
    "q",
)
"""The query parameters of the filter form (those of `GET /api/sessions`)."""
ORDER_KEYS = ("sort", "order")
"""The query parameters of the listing order (kept by the filter form and the page links)."""
_SORTABLE: dict[str, SortKey] = {
    "Started": "started",
    "Session": "session",
    "Client": "client",
    "Model": "model",
    "Duration": "duration",
    "Status": "status",
}

_WHEN = (("1h", "an hour ago"), ("24h", "a day ago"), ("7d", "a week ago"), ("30d", "30 days ago"))
"""Suggestions for the From and Until fields, which take these or any date and time (`2026-03-01 14:00`)."""
_STATUS = (("", "Any status"), ("true", "Succeeded"), ("false", "Failed"))
_PROVIDERS = ("anthropic", "openai")


@dataclass(frozen=True, slots=True)
class ListView:
    """What the list page shows: the page of sessions (None after a bad filter), the filter values as
    given, the choices of the model and client selects, and a message (a bad filter, a deletion)."""

    page: SessionPage | None
    params: Mapping[str, str]
    models: Sequence[str]
    clients: Sequence[str]
    error: str | None = None
    notice: str | None = None
    export_enabled: bool = False
    keyed: bool = False
    """The gateway requires keys: the form offers the key and team filters (also shown when the URL sets them)."""


def _select(name: str, label: str, options: Sequence[tuple[str, str]], current: str) -> Markup:
    if current and all(value != current for value, _ in options):
        options = (*options, (current, current))
    return el(
        "label",
        None,
        el("span", None, label),
        el(
            "select",
            {"name": name},
            [el("option", {"value": value, "selected": value == current}, text) for value, text in options],
        ),
    )


def _input(name: str, label: str, current: str, *, wrap_class: str | None = None, **attrs: object) -> Markup:
    field = el("input", {"name": name, "value": current or None, **attrs})
    return el("label", {"class_": wrap_class}, el("span", None, label), field)


def _key_inputs(view: ListView) -> list[Markup]:
    p = view.params
    if not (view.keyed or p.get("key") or p.get("team")):
        return []
    return [
        _input("key", "Key", p.get("key", ""), placeholder="id or name", size="12"),
        _input("team", "Team", p.get("team", ""), placeholder="any", size="10"),
    ]


def _form(view: ListView) -> Markup:
    p = view.params
    return el(
        "form",
        {"class_": "filters", "method": "get", "action": "/sessions", "id": "filters"},
        _input("since", "From", p.get("since", ""), list="when", placeholder="any time, 24h, 2026-03-01", size="16"),
        _input("until", "Until", p.get("until", ""), list="when", placeholder="now, 1h, 2026-03-02 18:00", size="16"),
        el("datalist", {"id": "when"}, [el("option", {"value": v}, label) for v, label in _WHEN]),
        _select("model", "Model", (("", "Any model"), *((m, m) for m in view.models)), p.get("model", "")),
        _input("provider", "Provider", p.get("provider", ""), list="providers", placeholder="any", size="10"),
        el("datalist", {"id": "providers"}, [el("option", {"value": v}) for v in _PROVIDERS]),
        _select("user_agent", "Client", (("", "Any client"), *((c, c) for c in view.clients)), p.get("user_agent", "")),
        _select("success", "Status", _STATUS, p.get("success", "")),
        _input("min_tokens", "Min tokens", p.get("min_tokens", ""), type="number", min="0", step="1", size="8"),
        _input("tool", "Tool", p.get("tool", ""), placeholder="any", size="10"),
        _key_inputs(view),
        _input(
            "q", "Search", p.get("q", ""), type="search", placeholder="Text in prompts and answers", wrap_class="grow"
        ),
        [el("input", {"type": "hidden", "name": k, "value": p[k]}) for k in ORDER_KEYS if p.get(k)],
        el(
            "div",
            {"class_": "form-actions"},
            el("button", {"type": "submit", "class_": "button primary"}, "Filter"),
            el("a", {"href": "/sessions", "class_": "button"}, "Clear"),
        ),
    )


_NUMERIC = frozenset({"Requests", "Tokens", "Cost", "Duration"})


def _col(label: str) -> str:
    """The column's class (`c-model`): the stylesheet drops the less needed columns on narrow screens."""
    return f"c-{label.lower()}"


def _row(s: SessionSummary) -> Markup:
    href = f"/sessions/{s.session_id}"
    model = s.model_used or s.model_requested
    return el(
        "tr",
        None,
        el("td", {"class_": "c-started"}, el("time", {"datetime": f.iso(s.started_at)}, f.instant(s.started_at))),
        el(
            "td",
            {"class_": "c-session"},
            el("a", {"href": href, "class_": "sid", "title": s.session_id}, f.short_id(s.session_id, 20)),
            el("div", {"class_": "preview muted"}, s.prompt_preview) if s.prompt_preview else None,
        ),
        el("td", {"class_": "client c-client", "title": s.user_agent or ""}, s.user_agent or f.DASH),
        el(
            "td",
            {"class_": "c-model"},
            model or f.DASH,
            el("span", {"class_": "muted"}, f" · {s.provider}") if s.provider else None,
            el(
                "span",
                {"class_": "badge fallback", "title": f"{s.fallback_requests:,} answered after a fallback or retry"},
                f"→ {s.fallback_provider}" if s.fallback_provider else "fallback",
            )
            if s.fallback_requests
            else None,
        ),
        el("td", {"class_": "num c-requests"}, f.count(s.request_count)),
        el("td", {"class_": "num c-tokens"}, f.count(s.total_tokens)),
        el("td", {"class_": "num c-cost"}, f.cost(s.cost_usd)),
        el("td", {"class_": "num c-duration"}, f.duration_ms(s.total_duration_ms)),
        el("td", {"class_": "c-status"}, status_badge(s.success, s.failed_requests)),
    )


def _heading(label: str, params: Mapping[str, str]) -> Markup:
    """A column heading; a sortable one links to the list ordered by it (again: the other way round)."""
    key = _SORTABLE.get(label)
    classes = _col(label) + (" num" if label in _NUMERIC else "")
    if key is None:
        return el("th", {"class_": classes}, label)
    current = params.get("sort", "started")
    descending = params.get("order", "desc") != "asc"
    if current == key:
        order = "asc" if descending else "desc"
        mark, aria = (" ▼", "descending") if descending else (" ▲", "ascending")
    else:
        order = "asc" if key in ("session", "client", "model") else "desc"
        mark, aria = "", None
    kept = {k: v for k, v in params.items() if k in FILTER_KEYS and v}
    href = "/sessions?" + urlencode({**kept, "sort": key, "order": order})
    return el("th", {"class_": classes, "aria-sort": aria}, el("a", {"href": href, "class_": "sort"}, label, mark))


def _links(page: SessionPage, params: Mapping[str, str]) -> Markup:
    kept = {k: v for k, v in params.items() if k in (*FILTER_KEYS, *ORDER_KEYS) and v}
    if page.limit != 50:
        kept["limit"] = str(page.limit)

    def link(offset: int, label: str, rel: str, enabled: bool) -> Child:
        if not enabled:
            return el("span", {"class_": "disabled"}, label)
        query = urlencode({**kept, "offset": str(offset)} if offset else kept)
        return el("a", {"href": f"/sessions?{query}" if query else "/sessions", "rel": rel}, label)

    first = page.offset + 1 if page.sessions else 0
    last = page.offset + len(page.sessions)
    return el(
        "nav",
        {"class_": "pager", "aria-label": "Pages"},
        link(max(0, page.offset - page.limit), "← Newer", "prev", page.offset > 0),
        el("span", {"class_": "range"}, f"{first:,} to {last:,} of {page.total:,} sessions"),
        link(page.offset + page.limit, "Older →", "next", page.has_more),
    )


def render_sessions(view: ListView) -> Markup:
    """The page body of the session list."""
    body: list[Child] = [el("h1", None, "Sessions")]
    if view.notice:
        body.append(el("p", {"class_": "notice", "role": "status"}, view.notice))
    body.append(_form(view))
    if view.error:
        body.append(el("p", {"class_": "error-text", "role": "alert"}, view.error))
    page = view.page
    if page is None:
        return el("div", {"class_": "sessions"}, body)
    if not page.sessions:
        body.append(
            el(
                "p",
                {"class_": "empty"},
                "No sessions match these filters."
                if page.total or any(view.params.get(k) for k in FILTER_KEYS)
                else "No sessions recorded yet.",
            )
        )
        return el("div", {"class_": "sessions"}, body)
    head = el(
        "thead",
        None,
        el(
            "tr",
            None,
            [
                _heading(label, view.params)
                for label in (
                    "Started",
                    "Session",
                    "Client",
                    "Model",
                    "Requests",
                    "Tokens",
                    "Cost",
                    "Duration",
                    "Status",
                )
            ],
        ),
    )
    table = el(
        "table", {"class_": "list", "id": "session-table"}, head, el("tbody", None, [_row(s) for s in page.sessions])
    )
    body.extend([_links(page, view.params), el("div", {"class_": "table-wrap"}, table), _links(page, view.params)])
    if view.export_enabled:
        kept = {k: v for k, v in view.params.items() if k in (*FILTER_KEYS, *ORDER_KEYS) and v}
        body.append(
            el(
                "p",
                {"class_": "list-export"},
                f"Export these {page.total:,} sessions: ",
                el(
                    "a",
                    {"href": "/api/export/sessions?" + urlencode({**kept, "format": "csv"}), "download": True},
                    "CSV",
                ),
                " · ",
                el(
                    "a",
                    {"href": "/api/export/sessions?" + urlencode({**kept, "format": "json"}), "download": True},
                    "JSON",
                ),
            )
        )
    return el("div", {"class_": "sessions"}, body)
