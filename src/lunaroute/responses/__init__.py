"""The store of Responses served by translation: `previous_response_id` and `GET`/`DELETE /v1/responses/{id}`
for providers that have no such notion.

The gateway keeps each such response with the whole input it answered (its own input, after any earlier
response it continued was spliced in), so continuing it needs one read. Backends: a SQLite file (the embedded
default) or PostgreSQL (several replicas); `open_response_store` picks one from the configured URL.
"""

from ._continue import continue_from, input_items
from ._memory import ChainedStore, MemoryResponseStore
from ._store import LazyResponseStore, ResponseStore, StoredResponse, open_response_store

__all__ = [
    "ChainedStore",
    "LazyResponseStore",
    "MemoryResponseStore",
    "ResponseStore",
    "StoredResponse",
    "continue_from",
    "input_items",
    "open_response_store",
]
