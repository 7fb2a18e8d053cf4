"""Decide what a request is from its method, path and headers: the endpoint, its dialect and upstream path.

Pure: no I/O. Paths are normalised once here (repeated slashes collapsed, one trailing slash dropped) and every
later decision, authorisation included, uses the normalised form; dot segments and encoded slashes are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lunaroute.errors import InvalidRequest, MethodNotAllowed, NotFound
from lunaroute.types import Endpoint, Headers

__all__ = ["Route", "classify", "normalise_path"]


@dataclass(frozen=True, slots=True)
class Route:
    """A classified request: `upstream_path` is relative to the dialect's API root (what follows `/v1`)."""

    endpoint: Endpoint
    upstream_path: str
    bypass: bool


# path -> (endpoint, allowed method); exact matches first.
_EXACT: dict[str, tuple[Endpoint, str]] = {
    "/v1/messages": (Endpoint.ANTHROPIC_MESSAGES, "POST"),
    "/v1/messages/count_tokens": (Endpoint.ANTHROPIC_COUNT_TOKENS, "POST"),
    "/v1/chat/completions": (Endpoint.OPENAI_CHAT, "POST"),
    "/v1/completions": (Endpoint.OPENAI_COMPLETIONS, "POST"),
    "/v1/responses": (Endpoint.OPENAI_RESPONSES, "POST"),
    "/responses": (Endpoint.OPENAI_RESPONSES, "POST"),
    "/v1/models": (Endpoint.OPENAI_MODELS, "GET"),
    "/models": (Endpoint.OPENAI_MODELS, "GET"),
    "/v1/embeddings": (Endpoint.OPENAI_EMBEDDINGS, "POST"),
}

_ANTHROPIC_HINTS = ("anthropic-version", "x-api-key")
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9a-fA-F]|7[fF])")


def normalise_path(raw_path: str) -> str:
    """The path without query, repeated slashes collapsed and a trailing slash dropped.

    Raises `InvalidRequest` for dot segments, encoded slashes or backslashes, control characters (raw or
    percent-encoded, `%00` included), and anything that is not an origin-form path.
    """
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/"):
        raise InvalidRequest("the request target must be a path")
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path or "%2e" in lowered:
        raise InvalidRequest("encoded separators are not allowed in the path")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        raise InvalidRequest("control characters are not allowed in the path")
    if "%" in path and _ENCODED_CONTROL.search(path):
        raise InvalidRequest("encoded control characters are not allowed in the path")
    if "//" in path:
        path = "/" + "/".join(part for part in path.split("/") if part)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    if "/." in path:
        segments = path.split("/")
        if "." in segments or ".." in segments:
            raise InvalidRequest("dot segments are not allowed in the path")
    return path


def classify(method: str, path: str, headers: Headers, *, bypass_enabled: bool) -> Route:
    """Classify a request whose path was already normalised.

    Known endpoints are matched exactly; any other `/v1/messages/...` path is Anthropic's; any other `/v1/...`
    path is a bypass to the Anthropic side when the request carries `anthropic-version` or `x-api-key`, and to
    the OpenAI side otherwise. Raises `NotFound` or `MethodNotAllowed`.
    """
    exact = _EXACT.get(path)
    if exact is not None:
        endpoint, allowed = exact
        if method != allowed:
            if endpoint is Endpoint.OPENAI_RESPONSES and method == "GET":
                raise MethodNotAllowed("GET on /responses (the WebSocket transport) is not served")
            raise MethodNotAllowed(f"{method} is not allowed on {path}; use {allowed}")
        return Route(endpoint, _upstream_path(path), bypass=False)
    if not path.startswith("/v1/"):
        raise NotFound(f"no endpoint at {path}")
    if not bypass_enabled:
        raise NotFound(f"no endpoint at {path} (bypass is disabled)")
    if path.startswith("/v1/messages/"):
        return Route(Endpoint.ANTHROPIC_OTHER, path[3:], bypass=True)
    if any(name in _ANTHROPIC_HINTS for name, _ in headers):
        return Route(Endpoint.ANTHROPIC_OTHER, path[3:], bypass=True)
    return Route(Endpoint.OPENAI_OTHER, path[3:], bypass=True)


def _upstream_path(path: str) -> str:
    return path[3:] if path.startswith("/v1/") else path
