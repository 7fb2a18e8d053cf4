"""The OpenAI Chat Completions dialect (`POST /v1/chat/completions`): wire bytes ⇄ `lunaroute.model`.

Pure: no I/O. Decoders of client input raise `InvalidRequest`; decoders of upstream output raise
`UpstreamError` (non-stream) or yield `StreamError` events (stream); `encode_request` raises
`UnsupportedFeature` when the request needs something OpenAI chat cannot express. What is dropped or
converted on the way to OpenAI: `_encode_request`; finish
reasons, usage and effort tables: `_mapping`; error types and statuses: `_errors`.
"""

from ._decode_request import decode_request
from ._encode_request import encode_request
from ._errors import decode_error, encode_error, error_status
from ._response import decode_response, encode_response
from ._stream_decode import StreamDecoder
from ._stream_encode import StreamEncoder

__all__ = [
    "StreamDecoder",
    "StreamEncoder",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "error_status",
]
