"""The dashboard page: a frame of cards that `dashboard.js` fills from the JSON API and keeps live."""

from __future__ import annotations

from lunaroute.ui.pages._html import Markup, el

__all__ = ["WINDOWS", "render_dashboard", "window_hours"]

WINDOWS = (("hour", "Hour", 1), ("day", "Day", 24), ("week", "Week", 24 * 7), ("month", "Month", 24 * 30))
"""The selectable windows: (query value, label, hours)."""


def window_hours(name: str) -> tuple[str, int]:
    """The window named `name` (`day` when unknown) and its length in hours."""
    for key, _, hours in WINDOWS:
        if key == name:
            return key, hours
    return "day", 24


_SINCE = {"hour": "1h", "day": "24h", "week": "7d", "month": "30d"}
"""The session-list `since` filter of each window."""


def _kpi(key: str, label: str, href: str | None = None) -> Markup:
    """A tile; with `href` it opens the session list filtered to what it counts."""
    return el(
        "a" if href else "div",
        {"class_": "kpi link" if href else "kpi", "id": f"kpi-{key}", "href": href},
        el("div", {"class_": "label"}, label),
        el("div", {"class_": "value", "data_kpi": key}, "—"),
        el("div", {"class_": "sub", "data_sub": key}),
    )


def _card(key: str, title: str, *extra: Markup, wide: bool = False) -> Markup:
    return el(
        "section",
        {"class_": "card wide" if wide else "card", "id": f"card-{key}"},
        el("div", {"class_": "card-head"}, el("h2", None, title), *extra),
        el("div", {"class_": "card-body", "id": f"chart-{key}"}, el("p", {"class_": "muted loading"}, "Loading…")),
    )


def render_dashboard(window: str, refresh_secs: int = 5) -> Markup:
    """The page body for the window named `window` (see `WINDOWS`); the live figures refresh every
    `refresh_secs` seconds (`ui.refresh_interval`)."""
    key, hours = window_hours(window)
    listed = f"/sessions?since={_SINCE[key]}"
    windows = el(
        "nav",
        {"class_": "windows segmented", "aria-label": "Window"},
        [
            el("a", {"href": f"/?window={name}", "aria-current": "page" if name == key else None}, label)
            for name, label, _ in WINDOWS
        ],
    )
    metric = el(
        "div",
        {"class_": "segmented small", "id": "activity-metric", "role": "group", "aria-label": "Metric"},
        [
            el(
                "button",
                {"type": "button", "data_metric": m, "aria-pressed": "true" if m == "requests" else "false"},
                label,
            )
            for m, label in (("requests", "Requests"), ("total_tokens", "Tokens"), ("cost_usd", "Cost"))
        ],
    )
    kpis = el(
        "section",
        {"class_": "kpis", "aria-label": "Totals"},
        _kpi("requests", "Requests", listed),
        _kpi("sessions", "Sessions", listed),
        _kpi("tokens", "Tokens", listed),
        _kpi("cost", "Cost", listed),
        _kpi("errors", "Failed sessions", f"{listed}&success=false"),
        _kpi("ttft", "Time to first token"),
        _kpi("latency", "Session duration"),
    )
    return el(
        "div",
        {
            "class_": "dash",
            "id": "dashboard",
            "data_hours": str(hours),
            "data_window": key,
            "data_since": _SINCE[key],
            "data_refresh_ms": str(refresh_secs * 1000),
        },
        el(
            "div",
            {"class_": "dash-head"},
            el("h1", None, "Dashboard"),
            windows,
            el("span", {"class_": "live", "id": "live", "aria-live": "polite"}, "Loading…"),
        ),
        el("p", {"class_": "error-text", "id": "dash-error", "role": "alert", "hidden": True}),
        kpis,
        el(
            "div",
            {"class_": "grid"},
            _card("activity", "Activity", metric, wide=True),
            _card("tokens", "Tokens by kind"),
            _card("costs", "Spending"),
            _card("models", "By model"),
            _card("providers", "By provider"),
            _card("clients", "By client"),
            _card("keys", "By API key"),
            _card("teams", "By team"),
            _card("budgets", "Budgets (current period)"),
            _card("tools", "Top tools (all time)"),
            _card("latency", "Latency by model"),
            _card("errors", "Errors by status"),
            _card("recent", "Recent sessions", wide=True),
            _card("health", "Provider health (now)", wide=True),
        ),
    )
