"""What the start of an exchange read from its request is reused at its end, and that changes no event."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunaroute.recording.codec import encode_event
from lunaroute.recording.events import SessionEvent
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.types import Endpoint, ExchangeRecord

from ._records import T0, body, exchange, one
from .test_fuzz import records


def _encoded(events: list[SessionEvent]) -> list[bytes]:
    return [encode_event(e) for e in events]


def _run(records_: list[ExchangeRecord], order: list[int], tracker: SessionTracker, *, copy_end: bool) -> list[bytes]:
    """Start and end each exchange in `order` (an exchange's first mention starts it, its second ends it)."""
    out: list[bytes] = []
    started: set[int] = set()
    for i in order:
        record = records_[i]
        if i not in started:
            started.add(i)
            out += _encoded(events_at_start(record, tracker))
        else:
            # The recorder process reads an exchange's end back from the journal: another record, same body.
            end = msgspec.structs.replace(record, request_body=bytes(record.request_body)) if copy_end else record
            out += _encoded(events_at_end(end, tracker))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # An unusable arrival time is recorded as the time of recording: keep the clock out of the comparison.
    st.lists(
        records().map(lambda r: msgspec.structs.replace(r, started_at=T0)),
        min_size=1,
        max_size=3,
        unique_by=lambda r: r.request_id,
    ),
    st.data(),
    st.booleans(),
)
def test_reusing_the_request_facts_changes_no_event(
    records_: list[ExchangeRecord], data: st.DataObject, copy_end: bool
) -> None:
    order = data.draw(st.permutations([i for i in range(len(records_)) for _ in range(2)]))
    kept = SessionTracker(max_sessions=4)
    fresh = SessionTracker(max_sessions=4, max_open_requests=0)
    for tracker in (kept, fresh):
        tracker.remember("", "x", "Known", T0 - 1.5)
    assert _run(records_, order, kept, copy_end=copy_end) == _run(records_, order, fresh, copy_end=False)


def test_an_end_with_another_request_is_read_again() -> None:
    tracker = SessionTracker()
    request = body({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    start = exchange(Endpoint.OPENAI_CHAT, request, request_headers=[("session_id", "first")])
    assert events_at_start(start, tracker)[0].session_id == "first"
    end = msgspec.structs.replace(start, request_headers=[("session_id", "second")])
    assert {e.session_id for e in events_at_end(end, tracker)} == {"second"}
    other_body = msgspec.structs.replace(start, request_body=body({"model": "m", "messages": []}))
    events_at_start(start, tracker)
    assert one(events_at_end(other_body, tracker), type(events_at_end(start, tracker)[-1])).session_id == "first"


def test_open_requests_are_bounded() -> None:
    tracker = SessionTracker(max_open_requests=2)
    request = body({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    for request_id in ("a", "b", "c"):
        events_at_start(exchange(Endpoint.OPENAI_CHAT, request, request_id=request_id), tracker)
    assert tracker.take_request("a") is None
    assert tracker.take_request("b") is not None
    assert tracker.take_request("b") is None  # taken once
    assert tracker.take_request("c") is not None
