"""The non-generative endpoints' wire: Anthropic `count_tokens`, the OpenAI model list and embeddings."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Sequence
from typing import Literal

from ._sse import encode_json

__all__ = ["embedding_vector", "render_count_tokens", "render_embeddings", "render_models"]


def render_count_tokens(input_tokens: int) -> bytes:
    """`{"input_tokens": N}`."""
    return encode_json({"input_tokens": input_tokens})


def render_models(model_ids: Sequence[str], *, created: int = 1_700_000_000, owned_by: str = "lunaroute") -> bytes:
    """The OpenAI `GET /models` list: `{"object": "list", "data": [{"id", "object": "model", ...}]}`."""
    data = [{"id": mid, "object": "model", "created": created, "owned_by": owned_by} for mid in model_ids]
    return encode_json({"object": "list", "data": data})


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text` (the same text always gives the same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.blake2b(f"{counter}:{text}".encode(), digest_size=64).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def render_embeddings(
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int = 16,
    encoding_format: Literal["float", "base64"] = "float",
    prompt_tokens: int = 0,
) -> bytes:
    """The OpenAI embeddings list, one deterministic vector per input text.

    `base64` encodes each vector as little-endian float32 (the official SDK asks for it by default and
    decodes it).
    """
    data = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, dimensions)
        encoded: list[float] | str = vector
        if encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return encode_json({"object": "list", "data": data, "model": model, "usage": usage})
