"""The AWS Bedrock Runtime Converse wire (`POST /model/{modelId}/converse` and `/converse-stream`): an upstream
wire only, `lunaroute.model` ⇄ wire bytes.

Pure: no I/O. `encode_request` raises `UnsupportedFeature` when the request needs something Converse cannot
express; `decode_response` raises `UpstreamError` on an unusable answer; the stream decoder reads botocore's
`application/vnd.amazon.eventstream` framing and never raises. What is converted or dropped on the way to
Bedrock: `_encode_request`; stop reasons and usage: `_mapping`; error statuses: `_errors`.
"""

from ._encode_request import encode_request
from ._errors import decode_error
from ._response import decode_response
from ._stream_decode import StreamDecoder

__all__ = ["StreamDecoder", "decode_error", "decode_response", "encode_request"]
