"""Both state stores: rate windows, parallel leases, all-or-nothing admission, retry-after, settlement."""

from __future__ import annotations

import asyncio
import uuid

from tests.state.conftest import open_redis

from lunaroute.state import Check, MemoryState, RedisState


async def test_a_rate_limit_admits_exactly_its_limit(state: MemoryState | RedisState) -> None:
    checks = [Check("key:a:rpm", "rate", 5)]
    verdicts = [await state.acquire(checks, f"r{i}") for i in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 3
    assert [v.results[0].remaining for v in verdicts[:5]] == [4, 3, 2, 1, 0]
    refused = verdicts[5]
    assert refused.failed == 0
    assert 55 <= refused.retry_after <= 60


async def test_costs_count_and_a_cost_over_the_limit_never_fits(state: MemoryState | RedisState) -> None:
    tpm = [Check("key:a:tpm", "rate", 1000, cost=600)]
    assert (await state.acquire(tpm, "r1")).allowed
    assert not (await state.acquire(tpm, "r2")).allowed
    small = [Check("key:a:tpm", "rate", 1000, cost=400)]
    assert (await state.acquire(small, "r3")).allowed
    huge = await state.acquire([Check("key:b:tpm", "rate", 1000, cost=1001)], "r4")
    assert not huge.allowed
    assert huge.retry_after == 60


async def test_admission_is_all_or_nothing(state: MemoryState | RedisState) -> None:
    key, team = Check("key:a:rpm", "rate", 10), Check("team:t:rpm", "rate", 2)
    assert (await state.acquire([key, team], "r1")).allowed
    assert (await state.acquire([key, team], "r2")).allowed
    refused = await state.acquire([key, team], "r3")
    assert not refused.allowed
    assert refused.failed == 1
    # The refused request took nothing from the key's own counter.
    alone = await state.acquire([key], "r4")
    assert alone.results[0].remaining == 7


async def test_parallel_leases_are_released(state: MemoryState | RedisState) -> None:
    check = [Check("key:a:parallel", "parallel", 2)]
    assert (await state.acquire(check, "r1")).allowed
    assert (await state.acquire(check, "r2")).allowed
    assert not (await state.acquire(check, "r3")).allowed
    await state.settle(["key:a:parallel"], "r1")
    assert (await state.acquire(check, "r3")).allowed


async def test_settlement_moves_the_usage(state: MemoryState | RedisState) -> None:
    import time

    tpm = [Check("key:a:tpm", "rate", 1000, cost=900)]
    assert (await state.acquire(tpm, "r1")).allowed
    # The request used 100 tokens, not the 900 reserved; its lease (none here) is released in the same call.
    await state.settle([], "r1", ["key:a:tpm"], time.time(), -800)
    verdict = await state.acquire([Check("key:a:tpm", "rate", 1000, cost=800)], "r2")
    assert verdict.allowed
    assert verdict.results[0].remaining == 100


async def test_concurrent_acquires_never_over_admit(state: MemoryState | RedisState) -> None:
    check = [Check("key:race:rpm", "rate", 30)]
    verdicts = await asyncio.gather(*(state.acquire(check, f"r{i}") for i in range(100)))
    assert sum(v.allowed for v in verdicts) == 30


async def test_redis_loads_its_scripts_again_after_a_flush() -> None:
    """A Redis that restarted (or ran `SCRIPT FLUSH`) no longer knows the scripts: the call loads them and goes
    through, and the counters it already held still count."""
    state = await open_redis(f"lunaroute-test:{uuid.uuid4().hex[:10]}:")
    try:
        await _flushed(state)
    finally:
        await state.aclose()


async def _flushed(state: RedisState) -> None:
    check = [Check("key:flush:rpm", "rate", 2), Check("key:flush:parallel", "parallel", 5)]
    assert (await state.acquire(check, "r1")).allowed
    await state._client.script_flush()
    assert (await state.acquire(check, "r2")).allowed
    await state._client.script_flush()
    await state.settle(["key:flush:parallel"], "r2")
    refused = await state.acquire(check, "r3")
    assert not refused.allowed
    assert refused.failed == 0
    assert refused.results[1].remaining == 4  # r1 still holds its lease; r2 gave its back


async def test_redis_drops_only_the_buckets_that_left_the_window() -> None:
    """A rate counter keeps its running total: a check drops the buckets older than the window (and takes them
    off the total) and keeps the rest, whatever their age inside the window."""
    prefix = f"lunaroute-test:{uuid.uuid4().hex[:10]}:"
    state = await open_redis(prefix)
    try:
        client = state._client
        now = int((await client.time())[0])
        key = prefix + "v2:key:slide:rpm"
        # 7 requests 100 s ago and 5 at 90 s ago (both out of the window), 3 at 20 s ago (still in it).
        await client.hset(key, mapping={now - 100: 7, now - 90: 5, now - 20: 3, "t": 15, "f": now - 100})
        await client.expire(key, 120)
        verdict = await state.acquire([Check("key:slide:rpm", "rate", 5)], "r1")
        assert verdict.allowed
        assert verdict.results[0].remaining == 1  # 3 still in the window + this one, of 5
        fields = await client.hgetall(key)
        assert int(fields[b"t"]) == 4
        assert str(now - 100).encode() not in fields
        assert str(now - 90).encode() not in fields
        refused = await state.acquire([Check("key:slide:rpm", "rate", 5, cost=2)], "r2")
        assert not refused.allowed
        assert 39 <= refused.retry_after <= 41  # when the three of 20 s ago leave the window
        assert 58 <= refused.results[0].reset_s <= 60  # the newest bucket is this second's
    finally:
        await state.aclose()
