"""The page shell every page shares (head, navigation), HTML responses with their security headers, error pages."""

from __future__ import annotations

from aiohttp import web

from lunaroute.ui.pages._html import Child, Markup, el, join

__all__ = ["CSP", "error_page", "html_response", "page"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every page: only our own files, no inline script or style, no framing."""

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_NAV = (("dashboard", "/", "Dashboard"), ("sessions", "/sessions", "Sessions"))


def page(title: str, active: str, body: Child, *, scripts: tuple[str, ...] = ()) -> Markup:
    """A whole document: `title`, the navigation with `active` marked, `body`, then `scripts` (static names)."""
    nav = el(
        "nav",
        {"aria-label": "Main"},
        [
            el("a", {"href": href, "aria-current": "page" if key == active else None}, label)
            for key, href, label in _NAV
        ],
    )
    head = el(
        "head",
        None,
        Markup('<meta charset="utf-8">'),
        el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        el("title", None, f"{title} · LunaRoute"),
        el("link", {"rel": "icon", "href": "/static/favicon.svg", "type": "image/svg+xml"}),
        el("link", {"rel": "stylesheet", "href": "/static/ui.css"}),
        el("script", {"src": "/static/ui.js", "defer": True}),
        [el("script", {"src": f"/static/{name}", "defer": True}) for name in scripts],
    )
    header = el(
        "header",
        {"class_": "top"},
        el("a", {"class_": "brand", "href": "/"}, el("span", {"class_": "logo", "aria-hidden": "true"}), "LunaRoute"),
        nav,
    )
    return join(
        Markup("<!doctype html>\n"),
        el("html", {"lang": "en"}, head, el("body", None, header, el("main", {"id": "main"}, body))),
    )


def html_response(document: Markup, status: int = 200) -> web.Response:
    """`document` as `text/html` with the strict CSP and the other security headers."""
    return web.Response(text=document, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def error_page(status: int, title: str, message: str, extra: Child = None, *, back: bool = True) -> web.Response:
    """A small HTML error page (the message is escaped), with `extra` below it and a link to the sessions."""
    body = el(
        "section",
        {"class_": "error-page"},
        el("p", {"class_": "status"}, str(status)),
        el("h1", None, title),
        el("p", None, message),
        extra,
        el("p", None, el("a", {"href": "/sessions"}, "Back to the sessions")) if back else None,
    )
    return html_response(page(title, "", body), status)
