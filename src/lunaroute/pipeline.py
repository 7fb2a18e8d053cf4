"""The one orchestrator: an inbound request, decoded, goes through routing to a provider and back.

The server decodes HTTP into an `Inbound`, calls `Pipeline.send`, and relays the `Outbound` it gets. Later
stages (policies, translation, fallbacks) grow here, not in the handlers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from lunaroute.errors import InvalidRequest, UpstreamError
from lunaroute.observability import Metrics
from lunaroute.providers._headers import forward_request_headers
from lunaroute.routing import PROVIDER_HEADER, ProviderTable, Route
from lunaroute.types import Dialect, Endpoint, Provider, UpstreamCall, UpstreamResponse

__all__ = ["JSON_ENDPOINTS", "Inbound", "Outbound", "Pipeline", "inspect_body", "rewrite_model"]

JSON_ENDPOINTS = frozenset(
    {
        Endpoint.ANTHROPIC_MESSAGES,
        Endpoint.ANTHROPIC_COUNT_TOKENS,
        Endpoint.OPENAI_CHAT,
        Endpoint.OPENAI_COMPLETIONS,
        Endpoint.OPENAI_RESPONSES,
        Endpoint.OPENAI_EMBEDDINGS,
    }
)
_NEEDS_MODEL = frozenset(
    {Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.OPENAI_COMPLETIONS, Endpoint.OPENAI_RESPONSES}
)


_top_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encoder = msgspec.json.Encoder()


def rewrite_model(body: bytes, model: str) -> bytes:
    """`body` with its top-level `model` replaced; every other value is kept as its original bytes."""
    top = _top_decoder.decode(body)
    top["model"] = msgspec.Raw(_encoder.encode(model))
    return _encoder.encode(top)


class _Head(msgspec.Struct):
    """The two fields passthrough needs from a body; every other key is skipped without being built."""

    model: str | None = None
    stream: bool | None = None


_head_decoder = msgspec.json.Decoder(_Head)


def inspect_body(endpoint: Endpoint, body: bytes) -> tuple[str | None, bool]:
    """`(model, stream)` of a JSON request body, validating just enough to route it safely.

    Raises `InvalidRequest` for a body that is not a UTF-8 JSON object, a non-string `model`, a non-boolean
    `stream`, a model name with control characters, a missing model where one is required, or a duplicated
    top-level `model`/`stream` key (routing and the upstream must not read different values).
    """
    if not body:
        raise InvalidRequest("the request body is empty; a JSON object is required")
    try:
        head = _head_decoder.decode(body)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if " - at `$." not in text:
            raise InvalidRequest("the request body must be a JSON object") from None
        message, _, where = text.rpartition(" - at `$.")
        raise InvalidRequest(message, param=where.rstrip("`")) from None
    except (msgspec.DecodeError, RecursionError):
        raise InvalidRequest("the request body is not valid JSON") from None
    model = head.model
    if model is not None and (not model or any(ord(c) < 0x20 or ord(c) == 0x7F for c in model)):
        raise InvalidRequest("model must be a non-empty name without control characters", param="model")
    if model is None and endpoint in _NEEDS_MODEL:
        raise InvalidRequest("model is required", param="model")
    if body.count(b'"model"') > 1 or body.count(b'"stream"') > 1:
        _reject_duplicate_keys(body)
    return model, bool(head.stream)


def _reject_duplicate_keys(body: bytes) -> None:
    """Slow path, taken only when `"model"`/`"stream"` occur more than once: refuse top-level duplicates."""
    import json

    seen_last: list[bool] = []

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        seen_last.append(any(keys.count(k) > 1 for k in ("model", "stream")))
        return dict(pairs)

    json.loads(body, object_pairs_hook=hook)
    if seen_last and seen_last[-1]:
        raise InvalidRequest("duplicate top-level keys are not allowed", param="model")


@dataclass(slots=True)
class Inbound:
    """A decoded client request."""

    route: Route
    method: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    model: str | None
    stream: bool
    request_id: str
    started: float = field(default_factory=time.perf_counter)

    @property
    def dialect(self) -> Dialect:
        return self.route.endpoint.dialect


@dataclass(slots=True)
class Outbound:
    """A provider's answer whose head arrived."""

    provider: Provider
    response: UpstreamResponse


class Pipeline:
    """Routing → provider. Raises gateway errors (`lunaroute.errors`); upstream error statuses are returned."""

    def __init__(self, table: ProviderTable, metrics: Metrics) -> None:
        self.table = table
        self._metrics = metrics

    async def send(self, inbound: Inbound) -> Outbound:
        requested = next((v for k, v in inbound.headers if k == PROVIDER_HEADER), None)
        provider = self.table.select(inbound.dialect, bypass=inbound.route.bypass, requested=requested)
        body, model = inbound.body, inbound.model
        target = self.table.models.get(provider.name)
        if target is not None and model is not None and target != model:
            body, model = rewrite_model(body, target), target
        call = UpstreamCall(
            endpoint=inbound.route.endpoint,
            method=inbound.method,
            path=inbound.route.upstream_path,
            query=inbound.query,
            headers=forward_request_headers(inbound.headers, stream=inbound.stream),
            body=body,
            stream=inbound.stream,
            model=model,
            request_id=inbound.request_id,
        )
        self._metrics.overhead.labels(inbound.dialect, inbound.route.endpoint.value).observe(
            time.perf_counter() - inbound.started
        )
        try:
            response = await provider.send(call)
        except UpstreamError as exc:
            self._metrics.upstream_errors.labels(provider.name, exc.code or "error").inc()
            raise
        return Outbound(provider, response)
