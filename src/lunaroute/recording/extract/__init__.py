"""Turning what the server observed of one exchange (`lunaroute.types.ExchangeRecord`) into session events.

Pure: no I/O, and every timestamp derives from the record (the clock is read only for a record whose
start time is unusable). Per exchange, call `events_at_start`
when the request is known and `events_at_end` when it finished, with one `SessionTracker` shared by all
exchanges (it carries tool calls from one request to the next). Both return events in recording order and
never raise for any request or response content.

- `session_id_for`: the session an exchange belongs to (Anthropic `metadata.user_id`, the `session_id`
  headers, else the request id).
- `SessionTracker`: bounded memory of tool calls; gives the *estimated* execution time of a tool.
- `parse_response`: the response copy read in the client's dialect (also used by the two above).
"""

from ._end import events_at_end
from ._request import RequestView, ToolResult, read_request
from ._response import GENERATION_ENDPOINTS, ParsedResponse, parse_response
from ._session import SESSION_HEADERS, explicit_session_id, session_id_for
from ._start import events_at_start
from ._toolstatus import guess_success
from ._tracker import SessionTracker, ToolCallSeen

__all__ = [
    "GENERATION_ENDPOINTS",
    "SESSION_HEADERS",
    "ParsedResponse",
    "RequestView",
    "SessionTracker",
    "ToolCallSeen",
    "ToolResult",
    "events_at_end",
    "events_at_start",
    "explicit_session_id",
    "guess_success",
    "parse_response",
    "read_request",
    "session_id_for",
]
