"""What the fake upstream records: each request it received and each response its client abandoned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = ["Abort", "ReceivedRequest"]


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as it arrived. `path` is as sent (percent-escapes kept, no query); `headers` keep their
    original case and order; `received_at` is `time.monotonic()` once the body was read."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes
    received_at: float

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        """The body decoded as JSON (raises `msgspec.DecodeError` when it is not JSON)."""
        return msgspec.json.decode(self.body)


@dataclass(frozen=True, slots=True)
class Abort:
    """A response whose client went away before it was finished.

    `noticed_at` is `time.monotonic()` when the server noticed (the handler was cancelled by the disconnect,
    or a write failed); `chunks_sent` counts the body chunks written before.
    """

    request: ReceivedRequest
    noticed_at: float
    chunks_sent: int
