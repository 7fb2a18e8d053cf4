"""The runner's start-up: what survives start-up is moved out of the collector's way."""

from __future__ import annotations

import gc

from lunaroute.server._runner import settle_heap


def test_settle_heap_freezes_what_start_up_built_and_collects_its_garbage() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    Node()  # garbage in a cycle: only the collector frees it
    kept = [Node()]
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert not any(isinstance(o, Node) and o is not kept[0] for o in gc.get_objects())
        # Frozen objects are out of every generation the collector walks.
        assert all(o is not kept[0] for o in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(o is kept[0] for o in gc.get_objects())
