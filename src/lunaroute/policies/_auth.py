"""The auth policy: find the gateway key a request presents, check it, strip it, and check the key's scopes.

A key is read from `x-lunaroute-key`, else `Authorization: Bearer`, else `x-api-key` — the headers the SDKs,
Claude Code and Codex already send. Whatever header carried it is removed before anything else sees the
request, so the key never reaches an upstream, a recording or a trace; with `x-lunaroute-key` the client may
still send its own provider credentials in the other two headers.

Pure apart from the clock: the keys come from an in-memory `KeyCache`.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from lunaroute.errors import AuthenticationError, PermissionDenied, RateLimited
from lunaroute.keys import KeyCache, KeyRecord, endpoint_allowed, model_allowed

__all__ = ["KEY_HEADER", "Authenticator", "ModelNotAllowed", "Principal"]

KEY_HEADER = "x-lunaroute-key"
_WINDOW_S = 60.0
_CARRIERS = frozenset((KEY_HEADER, "authorization", "x-api-key"))
_MAX_TRACKED_CLIENTS = 10_000
_MISSING = (
    "a LunaRoute API key is required: send it as `Authorization: Bearer lr-...`, `x-api-key: lr-...` "
    "or `x-lunaroute-key: lr-...`"
)
_PROBLEMS = {
    "unknown": "invalid LunaRoute API key",
    "expired": "this LunaRoute API key has expired",
    "revoked": "this LunaRoute API key has been revoked",
    "rotated": "this LunaRoute API key was rotated and its grace period is over",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (never its secret) and its team."""

    key_id: str
    key_name: str
    team: str | None
    record: KeyRecord


class ModelNotAllowed(PermissionDenied):
    code = "model_not_allowed"


class _EndpointNotAllowed(PermissionDenied):
    code = "endpoint_not_allowed"


class _TooManyFailures(RateLimited):
    code = "too_many_authentication_failures"


def _presented(headers: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """The secret presented and the name of the header it came in (lookup order: ours, bearer, x-api-key)."""
    bearer: str | None = None
    api_key: str | None = None
    for name, value in headers:
        if name not in _CARRIERS:
            continue
        if name == KEY_HEADER:
            return value.strip(), name
        if name == "authorization" and bearer is None:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == "x-api-key" and api_key is None:
            api_key = value.strip()
    if bearer is not None:
        return bearer, "authorization"
    if api_key is not None:
        return api_key, "x-api-key"
    return None, None


class _Failures:
    """Bad-key attempts per client address in the last minute (bounded: the oldest addresses are forgotten)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str, now: float) -> float | None:
        times = self._seen.get(client)
        if times is None:
            return None
        while times and times[0] <= now - _WINDOW_S:
            times.popleft()
        if len(times) < self._limit:
            return None
        return times[0] + _WINDOW_S - now

    def add(self, client: str, now: float) -> None:
        times = self._seen.get(client)
        if times is None:
            if len(self._seen) >= _MAX_TRACKED_CLIENTS:
                self._seen.popitem(last=False)
            times = self._seen[client] = deque(maxlen=self._limit)
        times.append(now)


class Authenticator:
    """Checks gateway keys against the cache. One per gateway process."""

    def __init__(
        self,
        cache: KeyCache,
        *,
        max_failures_per_minute: int = 20,
        on_refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.cache = cache
        self._failures = _Failures(max_failures_per_minute)
        self._on_refused = on_refused
        self._principals: dict[str, Principal] = {}
        """One `Principal` per key, made again only when the key's record changed."""

    def authenticate(
        self, headers: list[tuple[str, str]], client: str | None, path: str
    ) -> tuple[Principal, list[tuple[str, str]]]:
        """The caller and the headers without the key; raises 401, 403 (endpoint) or 429 (too many failures)."""
        now = time.time()
        address = client or "unknown"
        wait = self._failures.retry_after(address, now)
        if wait is not None:
            self._on_refused("throttled")
            raise _TooManyFailures(
                "too many requests with a missing or invalid LunaRoute API key from this address; try again later",
                retry_after=max(1.0, wait),
            )
        secret, carrier = _presented(headers)
        if secret is None:
            self._failures.add(address, now)
            self._on_refused("missing")
            raise AuthenticationError(_MISSING)
        found = self.cache.lookup(secret, now)
        if found.record is None:
            self._failures.add(address, now)
            self._on_refused(found.problem or "unknown")
            raise AuthenticationError(_PROBLEMS.get(found.problem or "unknown", _PROBLEMS["unknown"]))
        record = found.record
        if not endpoint_allowed(record, path):
            self._on_refused("endpoint_not_allowed")
            raise _EndpointNotAllowed(f"this LunaRoute API key may not call {path}")
        kept = [(name, value) for name, value in headers if name != carrier]
        principal = self._principals.get(record.id)
        if principal is None or principal.record is not record:
            principal = self._principals[record.id] = Principal(record.id, record.name, record.team, record)
        return principal, kept

    def authorize_model(self, principal: Principal, model: str | None) -> None:
        """Raise 403 when the key may not use `model`."""
        if not model_allowed(principal.record, model):
            self._on_refused("model_not_allowed")
            raise ModelNotAllowed(f"this LunaRoute API key may not use the model {model!r}", param="model")
