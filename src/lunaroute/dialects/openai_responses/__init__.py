"""The OpenAI Responses API dialect (`POST /v1/responses`): wire bytes ⇄ `lunaroute.model`.

Pure: no I/O. Decoders of client input raise `InvalidRequest`; decoders of upstream output raise
`UpstreamError` (non-stream) or yield `StreamError` events (stream); `encode_request` raises
`UnsupportedFeature` when the request needs something the Responses API cannot express, and
`check_translatable` when a Responses request uses what no other dialect can (hosted tools, `background`).
Errors share the Chat Completions wire shape (`{"error": {...}}`). What is converted on the way to a
Responses upstream: `_encode_request`; items and statuses: `_response`, `_mapping`.
"""

from ..openai_chat._errors import decode_error, encode_error, error_status
from ._check import check_translatable
from ._custom import custom_names
from ._decode_request import decode_request
from ._encode_request import encode_request
from ._response import DEFAULT_ECHO, Echo, decode_response, encode_response, request_echo
from ._stream_decode import StreamDecoder
from ._stream_encode import StreamEncoder

__all__ = [
    "DEFAULT_ECHO",
    "Echo",
    "StreamDecoder",
    "StreamEncoder",
    "check_translatable",
    "custom_names",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "error_status",
    "request_echo",
]
