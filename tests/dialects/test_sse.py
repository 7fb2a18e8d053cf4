"""The incremental SSE parser: any chunking, any line ending, BOM, comments, split UTF-8."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lunaroute.dialects._sse import SSEEvent, SSEParser, sse_frame


def parse(*chunks: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for c in chunks for e in parser.feed(c)]
    return events + parser.finish()


def test_event_and_data_lines() -> None:
    assert parse(b"event: ping\ndata: {}\n\ndata: a\ndata: b\n\n") == [
        SSEEvent(event="ping", data="{}"),
        SSEEvent(data="a\nb"),
    ]


def test_crlf_and_cr_only_line_endings() -> None:
    expected = [SSEEvent(event="x", data="1"), SSEEvent(data="2")]
    assert parse(b"event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n") == expected
    assert parse(b"event: x\rdata: 1\r\rdata: 2\r\r") == expected


def test_crlf_split_between_chunks_is_one_line_break() -> None:
    assert parse(b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n") == [SSEEvent(data="1"), SSEEvent(data="2")]


def test_bom_comments_and_field_without_space() -> None:
    assert parse(b"\xef\xbb", b"\xbf: keep-alive\ndata:x\nretry: 10\n\n") == [SSEEvent(data="x")]


def test_utf8_split_inside_a_character() -> None:
    data = "data: café ☕\n\n".encode()
    cut = data.index(b"\xe2") + 1
    assert parse(data[:cut], data[cut:]) == [SSEEvent(data="café ☕")]


def test_unterminated_last_event_is_dispatched_at_finish() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.finish() == [SSEEvent(data="[DONE]")]


def test_event_without_data_is_not_dispatched() -> None:
    assert parse(b"event: nothing\n\n") == []


def test_frame() -> None:
    assert sse_frame(b"{}") == b"data: {}\n\n"
    assert sse_frame(b"{}", "ping") == b"event: ping\ndata: {}\n\n"


STREAM = "\ufeffevent: a\r\ndata: héllo\r\n\r\n: comment\rdata: x\rdata: y\r\rdata: z\n\n".encode()


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert (
        parse(*chunks)
        == parse(STREAM)
        == [
            SSEEvent(event="a", data="héllo"),
            SSEEvent(data="x\ny"),
            SSEEvent(data="z"),
        ]
    )
