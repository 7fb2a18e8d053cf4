"""Fuzz target: the passthrough inspector (`lunaroute.dialects.passthrough.inspect_body`).

    python tests/fuzz/fuzz_inspect.py tests/fuzz/corpus/inspect -max_total_time=60

Invariants: any bytes give a result or `InvalidRequest`, nothing else; a body it lets through is one that
Python's own JSON parser reads as an object (strict UTF-8, no `NaN`/`Infinity`), whose `model` and `stream` are the
ones the inspector read, and whose top level holds no override field.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # fuzzing: instrument the code under test before it is first imported
    import atheris

    with atheris.instrument_imports(include=["lunaroute.dialects", "lunaroute.scrub"]):
        import lunaroute.dialects.passthrough  # noqa: F401 - instrumented here, used below

import json

from lunaroute.dialects.passthrough import inspect_body
from lunaroute.errors import InvalidRequest
from lunaroute.scrub import OVERRIDE_FIELDS
from lunaroute.types import Endpoint


def _no_constants(name: str) -> object:
    raise AssertionError(f"{name} let through")


def check(data: bytes) -> None:
    try:
        model, stream, forwarded = inspect_body(Endpoint.OPENAI_CHAT, data)
    except InvalidRequest:
        return
    tree = json.loads(forwarded.decode("utf-8"), parse_constant=_no_constants)
    assert isinstance(tree, dict)
    assert tree.get("model") == model
    assert bool(tree.get("stream")) is stream
    assert not OVERRIDE_FIELDS & tree.keys()


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
