"""Each gateway process's in-memory copy of the key store: a digest → record map kept current by polling.

Checking a key costs one SHA-256 and one dict lookup the first time, one dict lookup after (the secrets of keys
that matched are remembered, bounded, until the keys change); the store is never asked on the request path. A task
asks the store for rows changed since the last version seen every `refresh_s` (default 0.5 s), so a revocation
or a rotation made by any process (the CLI, another replica's admin API) takes effect everywhere within that
time. Expiry is checked against the clock on every request, so it is exact. Last-use times are collected in
memory and written in one batch every `touch_s`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass

from lunaroute._aio import cancel_and_wait
from lunaroute.keys._record import KeyRecord, digest_of
from lunaroute.keys._store import KeyStore, StoredKey

__all__ = ["KeyCache", "Lookup"]

_log = logging.getLogger("lunaroute.keys")
_MAX_KNOWN_SECRETS = 1024
"""Secrets remembered with their entry (valid keys only), so a key in use costs no SHA-256 per request."""


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: str
    record: KeyRecord
    valid_until: float | None
    """Set for a rotated-out secret: it works until then."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a presented secret turned out to be: a usable record, or why not (`unknown`, `expired`, `revoked`)."""

    record: KeyRecord | None
    problem: str | None


class KeyCache:
    """Owns one polling task; `start()` loads everything before the gateway serves, `aclose()` stops it."""

    def __init__(self, store: KeyStore, *, refresh_s: float = 0.5, touch_s: float = 5.0) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._touch_s = touch_s
        self._by_digest: dict[str, _Entry] = {}
        self._by_secret: dict[str, _Entry] = {}
        """Secrets that matched an entry, by the secret itself: emptied on every change to the keys."""
        self._digests_of: dict[str, tuple[str, ...]] = {}
        self._records: dict[str, KeyRecord] = {}
        self._version = 0
        self._used: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def version(self) -> int:
        return self._version

    def records(self) -> list[KeyRecord]:
        return list(self._records.values())

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._poll(), name="lunaroute-key-cache")

    async def refresh(self) -> int:
        """Apply the store's changes since the last version seen; returns how many rows changed."""
        changes = await self._store.changes_since(self._version)
        for stored in changes:
            self._apply(stored)
        return len(changes)

    def _apply(self, stored: StoredKey) -> None:
        record = stored.record
        self._by_secret.clear()
        for digest in self._digests_of.pop(record.id, ()):
            self._by_digest.pop(digest, None)
        self._records[record.id] = record
        self._version = max(self._version, record.version)
        digests = [stored.digest]
        self._by_digest[stored.digest] = _Entry(stored.digest, record, None)
        if stored.previous_digest is not None and record.previous_valid_until is not None:
            self._by_digest[stored.previous_digest] = _Entry(
                stored.previous_digest, record, record.previous_valid_until
            )
            digests.append(stored.previous_digest)
        self._digests_of[record.id] = tuple(digests)

    def lookup(self, secret: str, now: float | None = None) -> Lookup:
        """The record `secret` unlocks right now, or the reason it unlocks none."""
        entry = self._by_secret.get(secret)
        if entry is None:
            digest = digest_of(secret)
            entry = self._by_digest.get(digest)
            if entry is None or not hmac.compare_digest(entry.digest, digest):
                return Lookup(None, "unknown")
            if len(self._by_secret) >= _MAX_KNOWN_SECRETS:
                self._by_secret.clear()
            self._by_secret[secret] = entry
        now = time.time() if now is None else now
        if entry.valid_until is not None and entry.valid_until <= now:
            return Lookup(None, "rotated")
        status = entry.record.status(now)
        if status != "active":
            return Lookup(None, status)
        self._used[entry.record.id] = now
        return Lookup(entry.record, None)

    async def _poll(self) -> None:
        next_touch = time.monotonic() + self._touch_s
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
                if time.monotonic() >= next_touch:
                    next_touch = time.monotonic() + self._touch_s
                    await self._flush_used()
                if self._failing:
                    self._failing = False
                    _log.warning("key store reachable again")
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the keys last loaded, retry
                # Say so once per outage.
                if not self._failing:
                    self._failing = True
                    _log.warning("key store unreachable, using the keys last loaded: %s", exc)

    async def _flush_used(self) -> None:
        used, self._used = self._used, {}
        try:
            await self._store.touch(used)
        except BaseException:
            for key_id, at in used.items():
                self._used[key_id] = max(at, self._used.get(key_id, 0.0))
            raise

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        try:
            await self._flush_used()
        except Exception as exc:  # noqa: BLE001 - shutting down: last-use times are informational
            _log.warning("could not record key last-use times: %s", exc)
