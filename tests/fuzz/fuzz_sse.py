"""Fuzz target: the SSE parser (`lunaroute.dialects._sse.SSEParser`).

    python tests/fuzz/fuzz_sse.py tests/fuzz/corpus/sse -max_total_time=60

The first input byte chooses where the stream is cut in two; the rest is the stream. Invariants: the parser never
raises, and the two pieces give exactly the events the whole stream gives (a stream may be split anywhere: inside
a UTF-8 character, between CR and LF).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # fuzzing: instrument the code under test before it is first imported
    import atheris

    with atheris.instrument_imports(include=["lunaroute.dialects"]):
        import lunaroute.dialects._sse  # noqa: F401 - instrumented here, used below


from lunaroute.dialects._sse import SSEEvent, SSEParser


def events(*pieces: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    out: list[SSEEvent] = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    out.extend(parser.finish())
    return out


def check(data: bytes) -> None:
    if not data:
        return
    stream = data[1:]
    cut = data[0] * len(stream) // 255
    assert events(stream[:cut], stream[cut:]) == events(stream), f"split at {cut} changes the events"


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
