"""Provider switch notification: tell the model that a fallback is answering, so it can tell the user.

Pure: the notice is added to the request body in the client's dialect (Anthropic: appended to `system`;
OpenAI: a leading `system` message). Template variables: `${original_provider}`, `${new_provider}`,
`${reason}`, `${model}`.
"""

from __future__ import annotations

import msgspec

from lunaroute.dialects.passthrough import top_level
from lunaroute.errors import InvalidRequest
from lunaroute.types import Dialect

__all__ = ["inject_notice", "render_notice"]

_encode = msgspec.json.encode


def render_notice(template: str, *, original: str, new: str, reason: str, model: str | None) -> str:
    values = {"original_provider": original, "new_provider": new, "reason": reason, "model": model or ""}
    out = template
    for key, value in values.items():
        out = out.replace("${" + key + "}", value)
    return out


def inject_notice(body: bytes, dialect: Dialect, notice: str) -> bytes:
    """`body` with `notice` added as system text; unchanged when the body is not a JSON object."""
    try:
        top = top_level(body)
    except InvalidRequest:
        return body
    if dialect == "anthropic":
        system = msgspec.json.decode(top["system"]) if "system" in top else None
        if isinstance(system, list):
            system.append({"type": "text", "text": notice})
        elif isinstance(system, str) and system:
            system = f"{system}\n\n{notice}"
        else:
            system = notice
        top["system"] = msgspec.Raw(_encode(system))
    else:
        messages = msgspec.json.decode(top["messages"]) if "messages" in top else []
        if not isinstance(messages, list):
            return body
        messages.insert(0, {"role": "system", "content": notice})
        top["messages"] = msgspec.Raw(_encode(messages))
    return _encode(top)
