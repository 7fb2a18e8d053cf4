"""Turn a `Reply` and the request it answers into the exact head and body chunks to send (pure)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from http import HTTPStatus

from lunaroute.providers.mock import _wire as wire
from lunaroute.types import Dialect, Endpoint

from ._google import TokenIssuer, google_content, google_route
from ._reply import Reply

__all__ = ["Plan", "classify", "plan_reply"]

_ROUTES: dict[tuple[str, str], Endpoint] = {
    ("POST", "/chat/completions"): Endpoint.OPENAI_CHAT,
    ("POST", "/completions"): Endpoint.OPENAI_COMPLETIONS,
    ("POST", "/responses"): Endpoint.OPENAI_RESPONSES,
    ("GET", "/models"): Endpoint.OPENAI_MODELS,
    ("POST", "/embeddings"): Endpoint.OPENAI_EMBEDDINGS,
    ("POST", "/messages"): Endpoint.ANTHROPIC_MESSAGES,
    ("POST", "/messages/count_tokens"): Endpoint.ANTHROPIC_COUNT_TOKENS,
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send: `chunked` bodies go out with chunked transfer, the others with a content-length."""

    status: int
    headers: list[tuple[str, str]]
    chunks: list[bytes]
    chunked: bool


def classify(method: str, path: str) -> Endpoint | None:
    """The endpoint a fake-upstream path serves (with or without the `/v1` prefix); None for any other."""
    tail = path[3:] if path.startswith("/v1/") else path
    return _ROUTES.get((method.upper(), tail.rstrip("/") or "/"))


def _dialect(path: str, headers: list[tuple[str, str]]) -> Dialect:
    if path.startswith(("/v1/messages", "/messages")):
        return "anthropic"
    return "anthropic" if any(key.lower() == "anthropic-version" for key, _ in headers) else "openai"


def _html_page(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    title = f"{status} {reason}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        "<hr><center>fake-cdn</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def _mid_stream_error(endpoint: Endpoint, reply: Reply, sequence_number: int) -> bytes:
    message = reply.error_message or "The upstream failed mid-stream."
    if endpoint.dialect == "anthropic":
        return wire.anthropic_stream_error(reply.error_type or "overloaded_error", message)
    if endpoint is Endpoint.OPENAI_RESPONSES:
        return wire.responses_stream_error(message, reply.error_type or "server_error", sequence_number=sequence_number)
    return wire.openai_stream_error(message, reply.error_type or "server_error")


def _content(
    reply: Reply,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    tokens: TokenIssuer,
) -> wire.Rendered:
    """The unencoded body for `reply`: raw, HTML, error, echo or the rendered answer."""
    endpoint = classify(method, path)
    google = google_route(method, path)
    if reply.raw_chunks is not None:
        wants_stream = endpoint is not None and _wants_stream(endpoint, body)
        if google is not None:
            wants_stream = google.method in ("streamGenerateContent", "streamRawPredict")
        return wire.Rendered(reply.status, tuple(reply.raw_chunks), wants_stream)
    if reply.content_type is not None and reply.content_type.startswith("text/html"):
        return wire.Rendered(reply.status, (_html_page(reply.status),), False)
    if google is not None:
        return google_content(reply, google, headers, body, tokens)
    dialect = _dialect(path, headers)
    if reply.status >= 400:
        message = reply.error_message or f"Scripted error {reply.status}."
        return wire.render_error(dialect, reply.status, message, reply.error_type)
    if endpoint is None:
        echo = {"method": method, "path": path, "query": query, "body": body.decode("utf-8", "replace")}
        return wire.Rendered(reply.status, (wire.encode_json(echo),), False)
    try:
        facts = wire.read_request(endpoint, body)
    except wire.BadRequestBody as exc:
        return wire.render_error(dialect, 400, str(exc))
    rendered = wire.render_endpoint(facts, reply.answer, pieces=reply.pieces, ping=reply.ping)
    chunks = rendered.chunks
    if rendered.stream and reply.error_after_chunks is not None:
        kept = chunks[: reply.error_after_chunks]
        chunks = (*kept, _mid_stream_error(endpoint, reply, len(kept)))
    return wire.Rendered(reply.status, chunks, rendered.stream)


def _wants_stream(endpoint: Endpoint, body: bytes) -> bool:
    try:
        return wire.read_request(endpoint, body).stream
    except wire.BadRequestBody:
        return False


def _gzip_chunks(chunks: list[bytes]) -> list[bytes]:
    """Gzip the body as one member, flushing after every chunk so each stays decodable on arrival."""
    compressor = zlib.compressobj(wbits=31)
    out = [compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH) for chunk in chunks]
    tail = compressor.flush()
    if out:
        out[-1] += tail
    else:
        out.append(tail)
    return out


def plan_reply(
    reply: Reply,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    tokens: TokenIssuer | None = None,
) -> Plan:
    """The status, head and body chunks answering (method, path, body) with `reply`; `tokens` are the OAuth
    tokens the Vertex paths accept (none when not given)."""
    content = _content(reply, method, path, query, headers, body, tokens or TokenIssuer())
    content_type = reply.content_type or content.content_type
    if content.stream and content_type == "text/event-stream":
        content_type = "text/event-stream; charset=utf-8"
    out_headers = [("Content-Type", content_type)]
    if content.stream:
        out_headers.append(("Cache-Control", "no-cache"))
    chunks = list(content.chunks)
    if reply.gzip:
        chunks = _gzip_chunks(chunks)
        out_headers.append(("Content-Encoding", "gzip"))
    if reply.retry_after is not None:
        out_headers.append(("Retry-After", reply.retry_after))
    overridden = {name.lower() for name in reply.headers}
    out_headers = [(k, v) for k, v in out_headers if k.lower() not in overridden]
    out_headers.extend(reply.headers.items())
    return Plan(content.status, out_headers, chunks, content.stream)
