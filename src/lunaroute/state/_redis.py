"""The Redis state store: limits exact across any number of gateway processes and hosts.

Each request's checks are one `EVALSHA` of one Lua script (atomic on the server, one round trip): rate counters
are hashes of one-second buckets (field: the second, value: the usage) with their running total (`t`) and the
oldest second that may still have a bucket (`f`), so that a check reads two fields and drops only the buckets that
left the window since the last one (a refusal reads all the buckets, for its `retry-after` and resets); they
expire 61 s after their last write. Parallel counters are sorted sets of leases scored by their
expiry. Time is the Redis server's (`TIME`), so
replicas on hosts with different clocks count in the same window. No `KEYS` scans anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

import redis.asyncio as aioredis
from hiredis import pack_command
from redis.exceptions import NoScriptError, RedisError, ResponseError

from lunaroute.state._checks import LEASE_S, WINDOW_S, Check, CheckResult, Verdict

__all__ = ["RedisState", "StateUnavailable"]

_log = logging.getLogger("lunaroute.state")
_MAX_KEYS = 4096
_LAYOUT = "v2:"
"""In every key after the prefix: the layout of the counters the scripts keep. A gateway of another layout
counts under other keys (for the minute a rolling upgrade takes) instead of misreading these."""


class StateUnavailable(RuntimeError):
    """The shared state store could not be reached or answered an error."""


_ACQUIRE = Template("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local sec = math.floor(now)
local oldest = sec - ${window} + 1
local lease = ARGV[1]
local n = #KEYS
local used, reset, kinds, limits, costs, firsts = {}, {}, {}, {}, {}, {}
local failed = 0
for i = 1, n do
  local kind = ARGV[2 + (i - 1) * 3]
  local limit = tonumber(ARGV[3 + (i - 1) * 3])
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  kinds[i], limits[i], costs[i] = kind, limit, cost
  if kind == 'r' then
    local k = KEYS[i]
    local head = redis.call('HMGET', k, 't', 'f')
    local total, first = tonumber(head[1]) or 0, tonumber(head[2])
    if first and first < oldest then
      for s = first, oldest - 1 do
        local v = redis.call('HGET', k, s)
        if v then
          total = total - tonumber(v)
          redis.call('HDEL', k, s)
        end
      end
      first = oldest
      redis.call('HSET', k, 't', total, 'f', first)
    end
    used[i], firsts[i], reset[i] = total, first, 0
    if failed == 0 and total + cost > limit then failed = i end
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local held = redis.call('ZCARD', KEYS[i])
    used[i], reset[i] = held, 0
    if failed == 0 and held + 1 > limit then failed = i end
  end
end
local out = {}
if failed ~= 0 then
  -- A refusal reads the buckets: each rate counter's reset (its newest second) and the retry-after.
  local retry = 1
  for i = 1, n do
    if kinds[i] == 'r' then
      local flat = redis.call('HGETALL', KEYS[i])
      local buckets, secs = {}, {}
      for j = 1, #flat, 2 do
        local s = tonumber(flat[j])
        if s then
          buckets[s] = tonumber(flat[j + 1])
          table.insert(secs, s)
        end
      end
      table.sort(secs)
      if #secs > 0 then reset[i] = math.max(0, secs[#secs] + ${window} - now) end
      if i == failed then
        retry = ${window}
        local cost, limit, left = costs[i], limits[i], used[i]
        if cost <= limit then
          for _, s in ipairs(secs) do
            left = left - buckets[s]
            if left + cost <= limit then
              retry = math.max(0, s + ${window} - now)
              break
            end
          end
        end
      end
    end
  end
  for i = 1, n do
    table.insert(out, math.max(0, limits[i] - used[i]))
    table.insert(out, math.floor(reset[i] * 1000))
  end
  return {0, failed, math.floor(retry * 1000), unpack(out)}
end
for i = 1, n do
  if kinds[i] == 'r' then
    local k = KEYS[i]
    redis.call('HINCRBY', k, sec, costs[i])
    redis.call('HINCRBY', k, 't', costs[i])
    if not firsts[i] then redis.call('HSET', k, 'f', sec) end
    redis.call('EXPIRE', k, ${window} + 1)
    table.insert(out, math.max(0, limits[i] - used[i] - costs[i]))
    table.insert(out, math.floor((sec + ${window} - now) * 1000))
  else
    redis.call('ZADD', KEYS[i], now + ${lease}, lease)
    redis.call('EXPIRE', KEYS[i], ${lease} + 1)
    table.insert(out, math.max(0, limits[i] - used[i] - 1))
    table.insert(out, 0)
  end
end
return {1, 0, 0, unpack(out)}
""").substitute(window=WINDOW_S, lease=int(LEASE_S))

_SETTLE = Template("""
local leases = tonumber(ARGV[1])
for i = 1, leases do
  redis.call('ZREM', KEYS[i], ARGV[2])
end
local amount = tonumber(ARGV[4])
if amount == 0 then return 0 end
local t = redis.call('TIME')
local sec = tonumber(ARGV[3])
if sec <= tonumber(t[1]) - ${window} then return 0 end
for i = leases + 1, #KEYS do
  local first = tonumber(redis.call('HGET', KEYS[i], 'f'))
  if first and sec >= first then
    redis.call('HINCRBY', KEYS[i], sec, amount)
    redis.call('HINCRBY', KEYS[i], 't', amount)
    redis.call('EXPIRE', KEYS[i], ${window} + 1)
  end
end
return 1
""").substitute(window=WINDOW_S)


def _ignore(future: asyncio.Future[Any]) -> None:
    """Retrieve a fire-and-forget call's outcome, so that a failure is not reported as never retrieved."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True, slots=True)
class _Script:
    text: str
    sha: str


def _script(text: str) -> _Script:
    return _Script(text, hashlib.sha1(text.encode()).hexdigest())  # Redis names a script by its SHA-1


_ACQUIRE_SCRIPT = _script(_ACQUIRE)
_SETTLE_SCRIPT = _script(_SETTLE)
_Call = tuple[_Script, tuple[Any, ...], asyncio.Future[Any]]


class RedisState:
    """A state store on a Redis server. Create it with `await RedisState.open(url)`.

    Calls made in the same turn of the event loop are sent together on one pooled connection (one write and one
    read of the socket, one round trip): under load, many requests share the cost of a round trip. The calls
    are `EVALSHA`s packed by the client's own encoder and read with its parser (hiredis when installed), without
    a `Pipeline` object per batch; a script the server does not know (after a restart or `SCRIPT FLUSH`) is
    loaded and the call sent again.
    """

    name = "redis"

    def __init__(self, client: Any, prefix: str, timeout_s: float = 1.0) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._pending: list[_Call] = []
        self._sends: set[asyncio.Task[None]] = set()
        self._keys: dict[str, bytes] = {}
        """Each check key with the prefix, encoded once."""

    @classmethod
    async def open(
        cls, url: str, *, prefix: str = "lunaroute:", timeout_s: float = 1.0, require: bool = True
    ) -> RedisState:
        """Connect and check that the server answers: raises `StateUnavailable` when it does not and `require`
        is set; else logs a warning and returns a store whose calls fail until the server is back."""
        client = aioredis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            if require:
                await client.aclose()
                raise StateUnavailable(f"Redis at {url} is not reachable: {exc}") from None
            _log.warning("Redis at %s is not reachable yet: %s", url, exc)
        return cls(client, prefix, timeout_s)

    def _key(self, key: str) -> bytes:
        full = self._keys.get(key)
        if full is None:
            if len(self._keys) >= _MAX_KEYS:
                self._keys.clear()
            full = self._keys[key] = (self._prefix + _LAYOUT + key).encode()
        return full

    def _call(self, script: _Script, keys: list[bytes], args: list[Any]) -> asyncio.Future[Any]:
        """Queue one script call for the batch sent at the end of this turn of the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._send_pending)
        self._pending.append((script, ("EVALSHA", script.sha, len(keys), *keys, *args), future))
        return future

    def _send_pending(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._replies(batch)
        except BaseException:
            # Whatever happened (cancelled at shutdown included), no caller is left waiting.
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(StateUnavailable("the call to Redis did not complete"))
            raise
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, BaseException):
                future.set_exception(StateUnavailable(str(reply) or "Redis did not answer in time"))
            else:
                future.set_result(reply)

    async def _replies(self, batch: list[_Call]) -> list[Any]:
        """The replies to `batch`'s calls, in order: a reply or the error that stood in for it."""
        pool = self._client.connection_pool
        try:
            conn = await pool.get_connection()
        except (RedisError, OSError) as exc:
            return [exc] * len(batch)
        try:
            replies = await self._exchange(conn, [command for _, command, _ in batch])
            unknown = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if unknown:
                for script in {batch[i][0] for i in unknown}:
                    await self._exchange(conn, [("SCRIPT", "LOAD", script.text)])
                again = await self._exchange(conn, [batch[i][1] for i in unknown])
                for i, reply in zip(unknown, again, strict=True):
                    replies[i] = reply
            return replies
        except (RedisError, OSError) as exc:  # OSError includes the TimeoutError of the exchange's deadline
            await conn.disconnect(nowait=True)
            return [exc] * len(batch)
        except BaseException:
            # Cancelled mid-exchange: the rest of the replies are still on the socket.
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)

    async def _exchange(self, conn: Any, commands: list[Any]) -> list[Any]:
        """Write `commands` in one go and read their replies (a server error is the reply, not raised), all
        within one timeout: the commands are packed by hiredis as they are (bytes, text and integers), and the
        replies read without a timer each."""
        async with asyncio.timeout(self._timeout_s):
            await conn.send_packed_command([pack_command(command) for command in commands])
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response(timeout=math.inf))
                except ResponseError as exc:
                    replies.append(exc)
        return replies

    async def acquire(self, checks: Sequence[Check], lease_id: str, now: float | None = None) -> Verdict:
        keys = [self._key(c.key) for c in checks]
        args: list[Any] = [lease_id]
        for c in checks:
            args += ["r" if c.kind == "rate" else "p", c.limit, c.cost]
        try:
            reply = await self._call(_ACQUIRE_SCRIPT, keys, args)
        except asyncio.CancelledError:
            # The script may have run: give the leases back rather than leave them until they expire.
            leases = [self._key(c.key) for c in checks if c.kind == "parallel"]
            if leases:
                self._call(_SETTLE_SCRIPT, leases, [len(leases), lease_id, 0, 0]).add_done_callback(_ignore)
            raise
        allowed, failed, retry_ms = int(reply[0]), int(reply[1]), int(reply[2])
        results = tuple(
            CheckResult(c.limit, int(reply[3 + 2 * i]), int(reply[4 + 2 * i]) / 1000.0) for i, c in enumerate(checks)
        )
        if allowed:
            return Verdict(True, results)
        return Verdict(False, results, retry_after=retry_ms / 1000.0, failed=failed - 1)

    async def settle(
        self, leases: Sequence[str], lease_id: str, counters: Sequence[str] = (), at: float = 0.0, amount: int = 0
    ) -> None:
        """Drop the lease and move the rate counters' usage at `at` by `amount` (one script call)."""
        if not leases and (not counters or not amount):
            return
        keys = [self._key(k) for k in (*leases, *counters)]
        await self._call(_SETTLE_SCRIPT, keys, [len(leases), lease_id, math.floor(at), amount])

    async def aclose(self) -> None:
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)
        await self._client.aclose()
