"""The pages' middleware: `?token=` sign-in, public static files, and HTML instead of JSON for page errors.

It runs outside the API's own middlewares (`error_middleware`, `auth_middleware`), so those still decide
every status; this one only changes how a page request enters and what an error on a page looks like:

- `/api/...` passes through untouched (JSON, bearer or cookie).
- With a token configured, `GET <page>?token=<token>` sets the HttpOnly, SameSite=Strict `AUTH_COOKIE`
  and redirects (303) to the same page without the token; a wrong token gets the sign-in page (401).
  `/static/...` files are served without credentials (they are the same everywhere and hold no data).
- A JSON error answered for a page path (401, 404, 405, 400, 503) becomes an HTML page with that status;
  a 401 becomes the sign-in page.
"""

from __future__ import annotations

import hmac

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import MultiDict

from lunaroute.ui._middleware import AUTH_COOKIE, cookie_credential
from lunaroute.ui.pages._assets import StaticAssets
from lunaroute.ui.pages._html import el
from lunaroute.ui.pages._layout import error_page

__all__ = ["COOKIE_MAX_AGE", "pages_middleware"]

COOKIE_MAX_AGE = 30 * 24 * 3600
"""How long the sign-in cookie lasts, in seconds."""

_TITLES = {400: "Bad request", 401: "Sign in", 403: "Not allowed", 404: "Not found", 405: "Not allowed"}


def _sign_in(request: web.Request, wrong: bool) -> web.Response:
    message = "That token is not right." if wrong else "This LunaRoute UI needs its access token (ui.auth_token)."
    form = el(
        "form",
        {"method": "get", "action": request.path if _local(request.path) else "/", "class_": "sign-in"},
        [el("input", {"type": "hidden", "name": k, "value": v}) for k, v in request.query.items() if k != "token"],
        el("label", {"for": "token"}, "Access token"),
        el("input", {"id": "token", "name": "token", "type": "password", "required": True, "autocomplete": "off"}),
        el("button", {"type": "submit", "class_": "button primary"}, "Sign in"),
    )
    response = error_page(401, "Sign in", message, form, back=False)
    response.headers["WWW-Authenticate"] = 'Bearer realm="lunaroute"'
    return response


def _local(path: str) -> bool:
    """True for a path of this site (not `//host/...` or `/\\host`, which a browser reads as another site)."""
    return path.startswith("/") and not path.startswith(("//", "/\\"))


def _sign_in_with_query(request: web.Request, token: str) -> web.StreamResponse:
    given = request.query.get("token", "")
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape")):
        return _sign_in(request, wrong=True)
    rest = MultiDict((k, v) for k, v in request.query.items() if k != "token")
    target = str(request.rel_url.with_query(rest)) if _local(request.path) else "/"
    response = web.Response(status=303, headers={"Location": target})
    response.set_cookie(
        AUTH_COOKIE,
        cookie_credential(token),
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error_message(response: web.Response) -> str:
    try:
        body = msgspec.json.decode(response.body if isinstance(response.body, bytes) else b"")
        return str(body["error"]["message"])
    except (msgspec.DecodeError, KeyError, TypeError):
        return response.reason or "error"


def pages_middleware(token: str | None, assets: StaticAssets) -> Middleware:
    """The middleware described in the module docstring; `token` is `ui.auth_token` (None: no sign-in)."""

    @web.middleware
    async def pages(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/api/"):
            return await handler(request)
        if token and path.startswith("/static/") and request.method in ("GET", "HEAD"):
            return assets.response(path.removeprefix("/static/"))
        if token and "token" in request.query and request.method in ("GET", "HEAD"):
            return _sign_in_with_query(request, token)
        response = await handler(request)
        if (
            response.status < 400
            or not isinstance(response, web.Response)
            or response.content_type != "application/json"
        ):
            return response
        if response.status == 401:
            return _sign_in(request, wrong=False)
        title = _TITLES.get(response.status, "Something went wrong")
        page = error_page(response.status, title, _error_message(response))
        if "Allow" in response.headers:
            page.headers["Allow"] = response.headers["Allow"]
        return page

    return pages
