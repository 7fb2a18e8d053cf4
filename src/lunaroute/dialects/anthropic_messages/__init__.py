"""The Anthropic Messages dialect (`POST /v1/messages`): wire bytes ⇄ `lunaroute.model`.

Pure: no I/O. Decoders of client input raise `InvalidRequest`; decoders of upstream output raise
`UpstreamError` (non-stream) or yield `StreamError` events (stream); `encode_request` raises
`UnsupportedFeature` when the request needs something Anthropic cannot express. What is converted
or dropped on the way to Anthropic: `_encode_request`; stop reasons, usage and the effort ⇄ budget
table: `_mapping`; error types and statuses: `_errors`.
"""

from ._decode_request import decode_request
from ._encode_request import encode_request
from ._errors import decode_error, encode_error, error_status
from ._mapping import budget_for
from ._response import decode_response, encode_response
from ._stream_decode import StreamDecoder
from ._stream_encode import StreamEncoder

__all__ = [
    "StreamDecoder",
    "StreamEncoder",
    "budget_for",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "error_status",
]
