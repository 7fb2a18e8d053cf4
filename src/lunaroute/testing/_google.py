"""The Google side of the fake upstream: the Gemini API, Vertex AI (Gemini and Claude models) and an OAuth
token endpoint, with the checks the real services make on what they receive (pure, except `TokenIssuer`)."""

from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qs

import msgspec

from lunaroute.providers.mock import _wire as wire
from lunaroute.types import Endpoint

from ._reply import Reply

__all__ = [
    "TOKEN_PATH",
    "GoogleRoute",
    "TokenIssuer",
    "google_content",
    "google_route",
    "write_service_account",
]

TOKEN_PATH: Final = "/token"
"""Where the fake's OAuth token endpoint listens (a service-account file's `token_uri`)."""

_GEMINI = re.compile(
    r"/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent|countTokens)"
)
_VERTEX = re.compile(
    r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/(?P<publisher>google|anthropic)"
    r"/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)"
)
_GEMINI_METHODS: Final = frozenset({"generateContent", "streamGenerateContent", "countTokens"})
_CLAUDE_METHODS: Final = frozenset({"rawPredict", "streamRawPredict"})
_REQUEST_KEYS: Final = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent"}
)
_GENERATION_KEYS: Final = frozenset(
    {
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "stopSequences",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "thinkingConfig",
        "candidateCount",
        "responseLogprobs",
        "logprobs",
    }
)
_PART_KEYS: Final = frozenset(
    {
        "text",
        "thought",
        "thoughtSignature",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
    }
)
_VERSION: Final = re.compile(r"(vertex-)?\d{4}-\d{2}-\d{2}")
"""Vertex takes `vertex-2023-10-16` or, from current SDKs, an Anthropic API version date."""


@dataclass(frozen=True, slots=True)
class GoogleRoute:
    """A Google model path: which service, whose model, and the `:method`."""

    service: Literal["gemini", "vertex"]
    publisher: Literal["google", "anthropic"]
    model: str
    method: str


def google_route(method: str, path: str) -> GoogleRoute | None:
    """The Google route `POST path` names, or None."""
    if method.upper() != "POST":
        return None
    if match := _GEMINI.fullmatch(path):
        return GoogleRoute("gemini", "google", match["model"], match["method"])
    if match := _VERTEX.fullmatch(path):
        publisher: Literal["google", "anthropic"] = "anthropic" if match["publisher"] == "anthropic" else "google"
        return GoogleRoute("vertex", publisher, match["model"], match["method"])
    return None


class TokenIssuer:
    """The OAuth token endpoint: grants tokens to JWT-bearer assertions for the cloud-platform scope and
    remembers them, so the Vertex paths can refuse any other token."""

    def __init__(self, lifetime_secs: int = 3600) -> None:
        self.lifetime_secs = lifetime_secs
        self.issued: list[str] = []
        self._serial = itertools.count(1)

    def grant(self, body: bytes) -> tuple[int, bytes]:
        """The status and JSON body answering a token request."""
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, wire.encode_json({"error": "unsupported_grant_type"})
        claims = _jwt_claims(form.get("assertion", ""))
        if claims is None or "cloud-platform" not in str(claims.get("scope", "")):
            return 400, wire.encode_json({"error": "invalid_grant", "error_description": "Invalid JWT assertion."})
        token = f"ya29.fake-{next(self._serial)}"
        self.issued.append(token)
        answer = {"access_token": token, "expires_in": self.lifetime_secs, "token_type": "Bearer"}
        return 200, wire.encode_json(answer)


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    pieces = assertion.split(".")
    if len(pieces) != 3:
        return None
    try:
        claims = msgspec.json.decode(base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)))
    except (ValueError, msgspec.DecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _camel(name: str) -> str:
    """A field name as lowerCamelCase: Google's JSON parsers take both it and the proto's snake_case."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _gemini_problem(body: Any, method: str) -> str | None:
    """Why the Gemini API would refuse `body` (its shape, not its content), or None."""
    body = _camel_keys(body)
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    if method == "countTokens" and "generateContentRequest" in body:
        inner = body["generateContentRequest"]
        if not isinstance(inner, dict) or not str(inner.get("model", "")).startswith("models/"):
            return "generateContentRequest.model must be models/{model}"
        body = {k: v for k, v in inner.items() if k != "model"}
    unknown = sorted(set(body) - _REQUEST_KEYS)
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for turn in contents:
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "model"):
            return "Please use a valid role: user, model."
        parts = turn.get("parts")
        if not isinstance(parts, list) or not parts:
            return "* GenerateContentRequest.contents.parts: contents.parts must not be empty."
        for part in parts:
            if not isinstance(part, dict) or not set(part) <= _PART_KEYS:
                return f"Invalid JSON payload received. Unknown name in part {part!r}."
            response = part.get("functionResponse")
            if response is not None and not (isinstance(response.get("response"), dict) and response.get("name")):
                return "functionResponse needs a name and a response object"
    generation = body.get("generationConfig", {})
    unknown = sorted(set(generation) - _GENERATION_KEYS) if isinstance(generation, dict) else ["generationConfig"]
    if unknown:
        return f"Invalid JSON payload received. Unknown name \"{unknown[0]}\" at 'generation_config'."
    return None


def _claude_problem(body: Any, method: str) -> str | None:
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    version = body.get("anthropic_version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        return "anthropic_version: Field required"
    if method != "count-tokens" and "model" in body:
        return "model: Extra inputs are not permitted"
    return None


def _estimate(body: bytes) -> int:
    return max(1, len(body) // 4)


def google_content(
    reply: Reply, route: GoogleRoute, headers: list[tuple[str, str]], body: bytes, tokens: TokenIssuer
) -> wire.Rendered:
    """The fake's answer on a Google route: auth checks, request checks, then `reply` rendered."""
    if route.service == "gemini" and not _header(headers, "x-goog-api-key"):
        message = "Method doesn't allow unregistered callers. Please use API Key or other form of API consumer."
        return wire.Rendered(403, (wire.gemini_error(403, message),), False)
    if route.service == "vertex":
        bearer = _header(headers, "authorization") or ""
        if not bearer.startswith("Bearer ") or bearer[7:] not in tokens.issued:
            message = "Request had invalid authentication credentials. Expected OAuth 2 access token."
            return wire.Rendered(401, (wire.gemini_error(401, message),), False)
    claude = route.publisher == "anthropic"
    if reply.status >= 400:
        message = reply.error_message or f"Scripted error {reply.status}."
        if claude:
            return wire.render_error("anthropic", reply.status, message, reply.error_type)
        return wire.Rendered(reply.status, (wire.gemini_error(reply.status, message, reply.error_type),), False)
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError:
        parsed = None
    if claude:
        return _claude_content(reply, route, parsed, body)
    if route.method not in _GEMINI_METHODS:
        return wire.Rendered(404, (wire.gemini_error(404, f"Method {route.method} not found."),), False)
    problem = _gemini_problem(parsed, route.method)
    if problem is not None:
        return wire.Rendered(400, (wire.gemini_error(400, problem),), False)
    answer = reply.answer
    if not answer.model:
        answer = msgspec.structs.replace(answer, model=route.model)
    if answer.usage is None:
        usage = wire.Usage(input_tokens=_estimate(body), output_tokens=max(1, len(answer.text.split())))
        answer = msgspec.structs.replace(answer, usage=usage)
    if route.method == "countTokens":
        return wire.Rendered(200, (wire.render_gemini_count_tokens(answer.final_usage.input_tokens),), False)
    if route.method == "streamGenerateContent":
        events = wire.render_generate_content_stream(answer, pieces=reply.pieces)
        if reply.error_after_chunks is not None:
            message = reply.error_message or "The upstream failed mid-stream."
            failure = wire.gemini_error(500, message, reply.error_type)
            events = [*events[: reply.error_after_chunks], b"data: " + failure + b"\r\n\r\n"]
        return wire.Rendered(200, tuple(events), True)
    return wire.Rendered(200, (wire.render_generate_content(answer),), False)


def _claude_content(reply: Reply, route: GoogleRoute, parsed: Any, body: bytes) -> wire.Rendered:
    method = "count-tokens" if route.model == "count-tokens" else route.method
    if method != "count-tokens" and method not in _CLAUDE_METHODS:
        return wire.Rendered(404, (wire.gemini_error(404, f"Method {route.method} not found."),), False)
    problem = _claude_problem(parsed, method)
    if problem is not None:
        return wire.render_error("anthropic", 400, problem)
    endpoint = Endpoint.ANTHROPIC_COUNT_TOKENS if method == "count-tokens" else Endpoint.ANTHROPIC_MESSAGES
    facts = wire.RequestFacts(endpoint, route.model, method == "streamRawPredict", False, _estimate(body))
    return wire.render_endpoint(facts, reply.answer, pieces=reply.pieces, ping=reply.ping)


def write_service_account(path: Path, token_uri: str, project: str = "fake-project") -> Path:
    """Write a service-account key file (a fresh RSA key) whose `token_uri` is `token_uri` (e.g.
    `FakeUpstream.token_uri`), for `credentials_file` or `google-auth`; returns `path`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "fake-key-1",
        "private_key": pem,
        "client_email": f"gateway@{project}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_bytes(msgspec.json.encode(account))
    return path
