"""The one orchestrator: an inbound request, decoded, goes through routing to a provider and back.

The server decodes HTTP into an `Inbound`, calls `Pipeline.send`, and relays the `Outbound` it gets. When the
chosen provider speaks the client's dialect the body goes as its own bytes (passthrough; only `model` may be
patched); otherwise it is translated both ways through `lunaroute.model`. Later stages (policies) grow here, not
in the handlers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from lunaroute.errors import InvalidRequest, UnsupportedFeature, UpstreamError
from lunaroute.observability import Metrics
from lunaroute.providers._headers import forward_request_headers
from lunaroute.routing import MARKER_BYTES, PROVIDER_HEADER, Route, Router, find_marker
from lunaroute.translate import (
    TranslatedResponse,
    codec_for,
    count_tokens_locally,
    translate_headers,
    translate_request,
)
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
    """A provider's answer whose head arrived (passthrough, translated, or answered locally)."""

    provider: Provider
    response: UpstreamResponse
    translated: bool = False
    reason: str = "default"


_FAIL_OVER_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
_TRANSLATABLE = frozenset({Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT})
_MARKED = frozenset({Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.ANTHROPIC_COUNT_TOKENS})


class Pipeline:
    """Markers → router → provider (passthrough or translated) with fallbacks before the first byte.

    Raises gateway errors (`lunaroute.errors`); an upstream's own error status is returned, not raised, unless
    a fallback is left to try.
    """

    def __init__(self, router: Router, metrics: Metrics) -> None:
        self.router = router
        self._metrics = metrics

    async def send(self, inbound: Inbound) -> Outbound:
        endpoint = inbound.route.endpoint
        requested = next((v for k, v in inbound.headers if k == PROVIDER_HEADER), None)
        body, marker = inbound.body, None
        if endpoint in _MARKED and MARKER_BYTES in body:
            found = find_marker(body)
            if found is not None:
                body, marker = found.body, found.provider
        decision = self.router.decide(
            inbound.dialect, model=inbound.model, bypass=inbound.route.bypass, requested=requested, marker=marker
        )
        self._metrics.overhead.labels(inbound.dialect, endpoint.value).observe(time.perf_counter() - inbound.started)
        chain = decision.chain
        for position, provider in enumerate(chain):
            last = position == len(chain) - 1
            try:
                outbound = await self._attempt(inbound, provider, body)
            except UpstreamError as exc:
                self._metrics.upstream_errors.labels(provider.name, exc.code or "error").inc()
                if last:
                    raise
                self._metrics.fallbacks.labels(provider.name, chain[position + 1].name, exc.code or "error").inc()
                continue
            if not last and outbound.response.status in _FAIL_OVER_STATUSES:
                outbound.response.close()
                reason = f"status_{outbound.response.status}"
                self._metrics.fallbacks.labels(provider.name, chain[position + 1].name, reason).inc()
                continue
            outbound.reason = decision.reason if position == 0 else "fallback"
            return outbound
        raise AssertionError("a decision always has at least one provider")

    async def _attempt(self, inbound: Inbound, provider: Provider, body: bytes) -> Outbound:
        target_model = self.router.models.get(provider.name)
        if provider.dialect in (inbound.dialect, "any"):
            model = inbound.model
            if target_model is not None and model is not None and target_model != model:
                body, model = rewrite_model(body, target_model), target_model
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
            return Outbound(provider, await provider.send(call))
        return await self._translated(inbound, provider, body, target_model)

    async def _translated(self, inbound: Inbound, provider: Provider, body: bytes, model: str | None) -> Outbound:
        endpoint = inbound.route.endpoint
        if endpoint is Endpoint.ANTHROPIC_COUNT_TOKENS:
            return Outbound(provider, count_tokens_locally(body), translated=True)
        if endpoint not in _TRANSLATABLE:
            raise UnsupportedFeature(
                f"{endpoint.value} requests cannot be served by provider {provider.name!r}, "
                f"which speaks the {provider.dialect} dialect"
            )
        assert provider.dialect != "any"
        client, target = codec_for(inbound.dialect), codec_for(provider.dialect)
        started = time.perf_counter()
        upstream_body, request = translate_request(
            client,
            target,
            body,
            model_name=model or inbound.model,
            default_max_tokens=self.router.max_tokens.get(provider.name, 4096),
        )
        self._metrics.translation.labels(inbound.dialect, provider.dialect).observe(time.perf_counter() - started)
        call = UpstreamCall(
            endpoint=target.endpoint,
            method="POST",
            path=target.path,
            query="",
            headers=translate_headers(forward_request_headers(inbound.headers, stream=True), client, target),
            body=upstream_body,
            stream=inbound.stream,
            model=model or inbound.model,
            request_id=inbound.request_id,
        )
        response = await provider.send(call)
        translated = TranslatedResponse(
            response, client=client, provider=target, stream=inbound.stream, include_usage=request.include_usage
        )
        return Outbound(provider, translated, translated=True)
