"""The built-in `mock` provider and the wire synthesis behind it (canned answers as exact provider bytes)."""

from __future__ import annotations

from ._answer import Answer, StopReason, ToolCall, Usage
from ._provider import MockProvider
from ._response import MockResponse

__all__ = ["Answer", "MockProvider", "MockResponse", "StopReason", "ToolCall", "Usage"]
