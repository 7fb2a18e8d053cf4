"""The normalized request/response/stream model every dialect translates through.

Pure data: frozen msgspec `Struct`s with tagged unions (`type`), no I/O. A codec decodes its wire
format into these types and encodes them back; translating between dialects is decode in one,
encode in the other.

Rules every codec follows:

- **Nothing is lost within a dialect.** Keys a model type has no slot for are kept as raw JSON in the
  type's `extra` (`Extras`, tagged with the dialect they came from) and written back by an encoder of
  the same dialect; blocks and tools the model has no type for are `UnknownBlock`/`BuiltinTool`.
- **Across dialects, foreign extras are dropped**, with the exceptions listed in each codec's module
  docstring (features whose loss would change the answer raise `UnsupportedFeature` instead).
- **Tool call ids are never rewritten.**
- **Usage is Anthropic's accounting** (`Usage`): input excludes cache reads/writes, output includes
  reasoning.
"""

from ._accumulate import Accumulator, accumulate
from ._content import (
    Base64Source,
    Block,
    CacheControl,
    DocumentBlock,
    DocumentSource,
    FileSource,
    ImageBlock,
    ImageSource,
    JsonObject,
    PlainTextSource,
    RedactedThinkingBlock,
    RefusalBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
    UnknownBlock,
    UrlSource,
    parse_arguments,
)
from ._estimate import estimate_input_tokens
from ._extra import Extras, WireDialect
from ._replay import stream_events
from ._request import (
    BuiltinTool,
    Message,
    Reasoning,
    Request,
    ResponseFormat,
    Role,
    Tool,
    ToolChoice,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolSpec,
)
from ._response import ErrorInfo, ErrorKind, Response, StopReason, Usage, kind_for_status
from ._stream import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
)

__all__ = [
    "Accumulator",
    "Base64Source",
    "Block",
    "BlockStart",
    "BlockStop",
    "BuiltinTool",
    "CacheControl",
    "DocumentBlock",
    "DocumentSource",
    "ErrorInfo",
    "ErrorKind",
    "Extras",
    "FileSource",
    "ImageBlock",
    "ImageSource",
    "JsonObject",
    "Message",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "Ping",
    "PlainTextSource",
    "Reasoning",
    "RedactedThinkingBlock",
    "RefusalBlock",
    "Request",
    "Response",
    "ResponseFormat",
    "Role",
    "SignatureDelta",
    "StopReason",
    "StreamError",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingDelta",
    "Tool",
    "ToolChoice",
    "ToolChoiceAny",
    "ToolChoiceAuto",
    "ToolChoiceNone",
    "ToolChoiceTool",
    "ToolInputDelta",
    "ToolResultBlock",
    "ToolResultPart",
    "ToolSpec",
    "ToolUseBlock",
    "UnknownBlock",
    "UrlSource",
    "Usage",
    "WireDialect",
    "accumulate",
    "estimate_input_tokens",
    "kind_for_status",
    "parse_arguments",
    "stream_events",
]
