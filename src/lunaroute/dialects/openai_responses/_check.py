"""What a Responses request may use when it is translated for a provider of another dialect."""

from __future__ import annotations

from typing import Final

from lunaroute.errors import UnsupportedFeature
from lunaroute.model import BuiltinTool, Request, UnknownBlock

__all__ = ["check_translatable"]

_REFUSED_KEYS: Final = ("background", "conversation", "prompt")


def check_translatable(request: Request, target: str) -> None:
    """Raise `UnsupportedFeature` (400, naming it) for what `target` could not do and would otherwise lose.

    Refused: hosted tools (`web_search`, `file_search`, `code_interpreter`, `custom`, `mcp`, ...),
    `background: true`, a stored `conversation` or `prompt`, and input items the model has no type for
    (`item_reference`, hosted tool calls and their outputs).
    """
    for tool in request.tools:
        if isinstance(tool, BuiltinTool):
            raise UnsupportedFeature(f"the {tool.kind!r} tool is not supported by the {target} provider", param="tools")
    extra = request.extra
    if extra is not None and extra.dialect == "openai_responses":
        for key in _REFUSED_KEYS:
            raw = extra.fields.get(key)
            if raw is not None and bytes(raw) not in (b"null", b"false"):
                raise UnsupportedFeature(f"{key!r} is not supported by the {target} provider", param=key)
    for message in request.messages:
        for block in message.content:
            if isinstance(block, UnknownBlock) and block.dialect == "openai_responses":
                raise UnsupportedFeature(
                    f"input item {block.kind!r} is not supported by the {target} provider", param="input"
                )
