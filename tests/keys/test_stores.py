"""Both key stores (SQLite and PostgreSQL) through the manager, and the in-memory cache kept current from them."""

from __future__ import annotations

import time

import pytest

from lunaroute.keys import KeyCache, KeyChanges, KeyManager, KeyNotFound, KeySpec, digest_of, open_key_store


async def test_create_list_show_update_revoke(store_url: str) -> None:
    store = await open_key_store(store_url)
    try:
        keys = KeyManager(store)
        a = await keys.create(KeySpec(name="ci", team="core", models=["gpt-*"], metadata={"owner": "ana"}))
        b = await keys.create(KeySpec(name="laptop", endpoints=["/v1/embeddings"]))
        assert a.secret.startswith("lr-")
        assert a.record.prefix == a.secret[:11]
        assert [r.id for r in await keys.list_keys()] == [a.record.id, b.record.id]
        assert [r.id for r in await keys.list_keys("core")] == [a.record.id]
        shown = await keys.get(a.record.id)
        assert (shown.name, shown.team, shown.models, shown.metadata) == ("ci", "core", ["gpt-*"], {"owner": "ana"})
        assert b.record.version > a.record.version
        updated = await keys.update(a.record.id, KeyChanges(team=None, models=["claude-*"]))
        assert (updated.team, updated.models, updated.name) == (None, ["claude-*"], "ci")
        assert updated.version > b.record.version
        revoked = await keys.revoke(a.record.id)
        assert revoked.status() == "revoked"
        with pytest.raises(KeyNotFound):
            await keys.get("key_0000000000000000")
        with pytest.raises(ValueError, match="name"):
            await keys.create(KeySpec(name=""))
        with pytest.raises(ValueError, match="endpoints"):
            await keys.create(KeySpec(name="x", endpoints=["v1/chat"]))
    finally:
        await store.aclose()


async def test_the_store_keeps_digests_only(store_url: str) -> None:
    store = await open_key_store(store_url)
    try:
        created = await KeyManager(store).create(KeySpec(name="ci"))
        (stored,) = await store.changes_since(0)
        assert stored.digest == digest_of(created.secret)
        assert created.secret not in repr(stored)
    finally:
        await store.aclose()


async def test_cache_sees_every_change_of_another_process(store_url: str) -> None:
    """Two stores on one database stand for two gateway processes: changes reach the other's cache."""
    writer_store, reader_store = await open_key_store(store_url), await open_key_store(store_url)
    cache = KeyCache(reader_store, refresh_s=60)
    try:
        keys = KeyManager(writer_store)
        created = await keys.create(KeySpec(name="ci"))
        await cache.start()
        assert cache.lookup(created.secret).record is not None
        assert cache.lookup("lr-" + "x" * 43).problem == "unknown"

        await keys.revoke(created.record.id)
        assert cache.lookup(created.secret).record is not None  # not yet refreshed
        assert await cache.refresh() == 1
        assert cache.lookup(created.secret).problem == "revoked"

        other = await keys.create(KeySpec(name="other", expires_at=time.time() + 3600))
        await cache.refresh()
        assert cache.lookup(other.secret).record is not None
        assert cache.lookup(other.secret, now=time.time() + 3601).problem == "expired"
    finally:
        await cache.aclose()
        await writer_store.aclose()
        await reader_store.aclose()


async def test_rotation_with_and_without_grace(store_url: str) -> None:
    store = await open_key_store(store_url)
    cache = KeyCache(store, refresh_s=60)
    try:
        keys = KeyManager(store)
        first = await keys.create(KeySpec(name="ci"))
        await cache.start()
        second = await keys.rotate(first.record.id, grace_secs=3600)
        await cache.refresh()
        assert second.secret != first.secret
        assert cache.lookup(second.secret).record is not None
        assert cache.lookup(first.secret).record is not None  # within the grace period
        assert cache.lookup(first.secret, now=time.time() + 3601).problem == "rotated"

        third = await keys.rotate(first.record.id)
        await cache.refresh()
        assert cache.lookup(third.secret).record is not None
        assert cache.lookup(second.secret).problem == "unknown"
        assert cache.lookup(first.secret).problem == "unknown"
        await keys.revoke(first.record.id)
        with pytest.raises(ValueError, match="revoked"):
            await keys.rotate(first.record.id)
    finally:
        await cache.aclose()
        await store.aclose()


async def test_last_use_is_written_on_close(store_url: str) -> None:
    store = await open_key_store(store_url)
    cache = KeyCache(store, refresh_s=60)
    try:
        created = await KeyManager(store).create(KeySpec(name="ci"))
        await cache.start()
        before = time.time()
        assert cache.lookup(created.secret).record is not None
        await cache.aclose()
        shown = await store.get(created.record.id)
        assert shown is not None
        assert shown.last_used_at is not None
        assert shown.last_used_at >= before
        assert shown.version == created.record.version  # a use is not a change of the record
    finally:
        await store.aclose()
