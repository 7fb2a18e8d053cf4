"""Micro-benchmark of the passthrough inspector (`lunaroute.dialects.passthrough.inspect_body`).

    python bench/inspect_body.py [--seconds 0.2]

For each body shape (a 2 KB chat request, a 600 KB conversation in ASCII, the same with non-ASCII text, with an
emoji, and a 600 KB base64 image) it prints the microseconds per call of the inspector beside two references:
`msgspec` reading the top-level members only (each value kept as raw bytes: the floor, what routing needs and
nothing validated inside the values) and `msgspec` decoding the whole tree (what a full validation by decoding
costs). Each figure is CPU time, the fastest of several interleaved rounds: on a shared machine that is the steadiest
reading, and still indicative only.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import random
import time
import timeit
from collections.abc import Callable

import msgspec

from _payloads import chat_request
from lunaroute.dialects.passthrough import inspect_body
from lunaroute.types import Endpoint

_TEXT = "Explain the proxy path step by step, then list what the event loop does at each hop. "
_MIXED = "Explain the proxy path — step by step ✓ then list what the event loop does ⎿ at each hop. "


def conversation(text: str, size: int = 600_000) -> bytes:
    """A chat request of about `size` bytes: turns of `text`, a tool schema with numbers, sampling settings."""
    turns: list[dict[str, object]] = []
    body: dict[str, object] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 8192,
        "temperature": 0.2,
        "tools": [{"name": "read", "input_schema": {"type": "object", "properties": {"n": {"minimum": -1.5e9}}}}],
        "messages": turns,
    }
    total = 0
    while total < size:
        turn = (text * 12) + str(len(turns))
        turns.append({"role": "user" if len(turns) % 2 == 0 else "assistant", "content": turn})
        total += len(turn.encode()) + 30
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def image_request(size: int = 600_000) -> bytes:
    data = base64.b64encode(random.Random(7).randbytes(size * 3 // 4)).decode()
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]
    return json.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": content}]}
    ).encode()


def bodies() -> dict[str, bytes]:
    return {
        "2 KB chat": chat_request(False),
        "600 KB ASCII": conversation(_TEXT),
        "600 KB non-ASCII": conversation(_MIXED),
        "600 KB with an emoji": conversation(_MIXED + "😀"),
        "600 KB base64 image": image_request(),
    }


def per_call_us(calls: list[Callable[[], object]], seconds: float) -> list[float]:
    """Microseconds of CPU per call of each of `calls`: the fastest of 7 rounds, each round timing every call in
    turn (interleaved, so a burst of load elsewhere hits them alike). CPU time of this process, not wall time."""
    numbers = []
    for call in calls:
        number = 1
        while timeit.Timer(call, timer=time.process_time).timeit(number=number) < seconds / 70:
            number *= 2
        numbers.append(number)
    best = [float("inf")] * len(calls)
    for _ in range(7):
        for i, (call, number) in enumerate(zip(calls, numbers, strict=True)):
            took = timeit.Timer(call, timer=time.process_time).timeit(number=number) / number * 1e6
            best[i] = min(best[i], took)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0.2, help="time per figure (default 0.2)")
    args = parser.parse_args()
    top = msgspec.json.Decoder(dict[str, msgspec.Raw])
    tree = msgspec.json.Decoder()
    print("| body | bytes | inspect_body µs | top-level only µs | whole tree µs |")
    print("|---|---|---|---|---|")
    for name, body in bodies().items():
        inspect_body(Endpoint.ANTHROPIC_MESSAGES, body)  # a body the inspector refuses must not be benchmarked
        calls: list[Callable[[], object]] = [
            functools.partial(inspect_body, Endpoint.ANTHROPIC_MESSAGES, body),
            functools.partial(top.decode, body),
            functools.partial(tree.decode, body),
        ]
        figures = per_call_us(calls, args.seconds)
        print(f"| {name} | {len(body):,} | " + " | ".join(f"{f:,.1f}" for f in figures) + " |")


if __name__ == "__main__":
    main()
