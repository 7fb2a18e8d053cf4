"""Secrets kept out of every output, in one place: override fields of request bodies, configured keys in answers.

Two things are scrubbed:

- **Override fields** (`OVERRIDE_FIELDS`): members at the top level of a request body that other gateways act on
  (`api_key`, `api_base`, `base_url`, `custom_llm_provider`, `extra_headers`, cloud credentials...). No provider
  API defines them and this gateway never acts on them: `without_overrides` removes them before the body goes
  upstream or to the recorder, so they are neither forwarded nor stored.
- **Gateway keys** (`mask_gateway_keys`): anything shaped like an `lr-` key in a keyed exchange's request or
  answer, before it is journaled.
- **Known secrets** (`Scrubber`): the configured provider keys (and secret-named configured request headers),
  and the Codex tokens `codex_auth` reads (added as they are read).
  An upstream error body that echoes one is masked before the client sees it (`server._relay`) and before the
  exchange is journaled (`recording._capture`), so no store, export or UI view holds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from lunaroute.types import ExchangeRecord

__all__ = ["MASK", "OVERRIDE_FIELDS", "Scrubber", "mask_gateway_keys", "override_fields", "without_overrides"]

MASK = "[REDACTED:secret]"
OVERRIDE_FIELDS = frozenset(
    {
        "api_key",
        "api_base",
        "api_version",
        "base_url",
        "custom_llm_provider",
        "extra_headers",
        "organization",
        "azure_ad_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "vertex_credentials",
        "vertex_project",
        "vertex_location",
    }
)
_MIN_SECRET = 8
"""Shorter configured values are not masked: they would mask ordinary words, and no real key is that short."""
_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret")
_members = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encode = msgspec.json.Encoder().encode


_GATEWAY_KEY = re.compile(rb"lr-[A-Za-z0-9_-]{43}")


def mask_gateway_keys(data: bytes) -> bytes:
    """`data` with every string shaped like a gateway key (`lr-` and 43 URL-safe characters) masked.

    Gateway keys are not known to the recorder (the key store keeps digests), so they are found by shape: a user
    who pastes a key into a prompt, or a model that repeats it, leaves it in no store.
    """
    return _GATEWAY_KEY.sub(MASK.encode(), data) if b"lr-" in data else data


def override_fields(keys: Iterable[str]) -> list[str]:
    """Which of a body's top-level `keys` are override fields."""
    return [key for key in keys if key in OVERRIDE_FIELDS]


def without_overrides(body: bytes) -> bytes:
    """`body` (a JSON object) without its top-level override fields; every other member keeps its bytes."""
    members = _members.decode(body)
    return _encode({key: raw for key, raw in members.items() if key not in OVERRIDE_FIELDS})


class Scrubber:
    """Masks every occurrence of a set of known secret values. Falsy when it has none."""

    __slots__ = ("_pairs", "_texts")

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a key that contains another is masked whole.
        kept = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)
        self._texts = [(s, MASK) for s in kept]
        self._pairs = [(s.encode(), MASK.encode()) for s in kept]

    @classmethod
    def for_providers(cls, providers: Iterable[tuple[str | None, dict[str, str]]]) -> Scrubber:
        """From `(api_key, request_headers)` of each configured provider: the keys, and the values of headers whose
        name says they carry a credential (with any `Bearer ` prefix taken off too)."""
        secrets: list[str] = []
        for api_key, headers in providers:
            if api_key:
                secrets.append(api_key)
            for name, value in headers.items():
                if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
                    secrets.append(value)
                    scheme, _, credential = value.partition(" ")
                    if credential and scheme.lower() in ("bearer", "basic", "token"):
                        secrets.append(credential.strip())
        return cls(secrets)

    def add(self, secret: str) -> None:
        """Mask `secret` from now on too (a credential learnt at run time, e.g. a refreshed Codex token)."""
        if len(secret) < _MIN_SECRET or any(known == secret for known, _ in self._texts):
            return
        texts = sorted([*(known for known, _ in self._texts), secret], key=len, reverse=True)
        # Rebuilt and swapped whole: a scrub in progress keeps the lists it started with.
        self._texts = [(s, MASK) for s in texts]
        self._pairs = [(s.encode(), MASK.encode()) for s in texts]

    def learn(self, other: Scrubber) -> None:
        """Mask `other`'s secrets too (a config reload's new keys); those already known stay masked, since a
        request that started before the reload may still echo them."""
        kept = sorted({s for s, _ in self._texts} | {s for s, _ in other._texts}, key=len, reverse=True)
        self._texts = [(s, MASK) for s in kept]
        self._pairs = [(s.encode(), MASK.encode()) for s in kept]

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def data(self, data: bytes) -> bytes:
        for secret, mask in self._pairs:
            if secret in data:
                data = data.replace(secret, mask)
        return data

    def text(self, text: str) -> str:
        for secret, mask in self._texts:
            if secret in text:
                text = text.replace(secret, mask)
        return text

    def record(self, record: ExchangeRecord) -> None:
        """Mask what an upstream sent back in `record` (its body, stream chunks, headers and error message)."""
        record.response_body = self.data(record.response_body)
        if record.stream_chunks:
            record.stream_chunks[:] = [self.data(chunk) for chunk in record.stream_chunks]
        record.response_headers = [(name, self.text(value)) for name, value in record.response_headers]
        if record.error is not None:
            record.error = self.text(record.error)
