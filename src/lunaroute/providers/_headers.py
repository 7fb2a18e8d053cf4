"""Header hygiene between client and upstream: hop-by-hop removal, credentials, templates."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from lunaroute.types import Headers

__all__ = [
    "HOP_BY_HOP",
    "SENSITIVE_ENV",
    "apply_credentials",
    "forward_request_headers",
    "forward_response_headers",
    "render_template",
]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_DROP_REQUEST = HOP_BY_HOP | {"host", "content-length", "expect"}
_DROP_RESPONSE = HOP_BY_HOP | {"content-length"}
_AUTH = ("authorization", "x-api-key")

SENSITIVE_ENV = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|AUTH)", re.IGNORECASE)
"""`${env.X}` in a header template refuses variables whose name looks like a secret."""

_TEMPLATE = re.compile(r"\$\$|\$\{([^}]*)\}")


def _connection_tokens(headers: Headers) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name == "connection":
            tokens.update(t.strip().lower() for t in value.split(","))
    return tokens


_READABLE_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "zstd", "identity"})
"""Content codings the gateway can undo: an answer in any other (say `br`) could be neither scrubbed of a secret
it echoes nor recorded, so the upstream is not offered it."""


def readable_accept_encoding(value: str) -> str:
    """`value` (an `accept-encoding`) without the codings the gateway cannot read; `identity` if none is left."""
    kept = [part.strip() for part in value.split(",") if part.split(";", 1)[0].strip().lower() in _READABLE_CODINGS]
    return ", ".join(kept) if kept else "identity"


def forward_request_headers(headers: Headers, *, stream: bool, request_id: str | None = None) -> list[tuple[str, str]]:
    """Client headers fit to send upstream: no hop-by-hop, `host`, `content-length`, nor `x-lunaroute-*`.

    For streamed requests `accept-encoding` becomes `identity` so the relay can read the events it forwards;
    otherwise it keeps only the codings the gateway can undo (`readable_accept_encoding`). `request_id` (the
    client's own when it was valid) is sent as `x-request-id`.
    """
    extra = _connection_tokens(headers)
    out = [
        (name, value)
        for name, value in headers
        if name not in _DROP_REQUEST and name not in extra and not name.startswith("x-lunaroute-")
    ]
    if stream:
        out = [(n, v) for n, v in out if n != "accept-encoding"]
        out.append(("accept-encoding", "identity"))
    else:
        out = [(n, readable_accept_encoding(v) if n == "accept-encoding" else v) for n, v in out]
    if request_id is not None:
        out = [(n, v) for n, v in out if n != "x-request-id"]
        out.append(("x-request-id", request_id))
    return out


def forward_response_headers(headers: Headers, *, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Upstream response headers fit to send to the client (no hop-by-hop, no `content-length`)."""
    dropped = _DROP_RESPONSE | _connection_tokens(headers) | set(drop)
    return [(name, value) for name, value in headers if name not in dropped]


def apply_credentials(headers: list[tuple[str, str]], *, api_key: str | None, style: str) -> list[tuple[str, str]]:
    """Keep the client's credentials when the provider has no key; else replace *both* client headers.

    `style` is `anthropic` (`x-api-key`) or `openai` (`Authorization: Bearer`).
    """
    if api_key is None:
        return headers
    out = [(name, value) for name, value in headers if name not in _AUTH]
    if style == "anthropic":
        out.append(("x-api-key", api_key))
    else:
        out.append(("authorization", f"Bearer {api_key}"))
    return out


def render_template(template: str, variables: Mapping[str, str], env: Mapping[str, str] | None = None) -> str:
    """Fill `${request_id}`, `${provider}`, `${model}`, `${session_id}`, `${client_ip}` and `${env.NAME}`.

    Unknown variables render empty; `${env.NAME}` of a secret-looking name renders empty; CR/LF are removed.
    """
    env = os.environ if env is None else env

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name.startswith("env."):
            var = name[4:]
            return "" if SENSITIVE_ENV.search(var) else env.get(var, "")
        return variables.get(name, "")

    return _TEMPLATE.sub(replace, template).replace("\r", "").replace("\n", "")
