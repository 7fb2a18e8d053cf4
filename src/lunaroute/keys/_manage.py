"""Key management shared by the CLI and the admin API: create, update, revoke, rotate — over any `KeyStore`."""

from __future__ import annotations

import fnmatch
import re
import time

from lunaroute.keys._record import (
    KeyChanges,
    KeyRecord,
    KeySpec,
    digest_of,
    display_prefix,
    new_key_id,
    new_secret,
)
from lunaroute.keys._store import KeyStore

__all__ = ["CreatedKey", "KeyManager", "KeyNotFound", "check_spec"]

_NAME = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff]{1,128}")
_VALUE = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff]{0,1024}")
_MAX_PATTERNS = 100
_MAX_LIMIT = 2_000_000_000
_MAX_METADATA = 50


class KeyNotFound(LookupError):
    """No key has that id."""


class CreatedKey:
    """A new (or newly rotated) key: its record and the secret, which is shown this once."""

    __slots__ = ("record", "secret")

    def __init__(self, record: KeyRecord, secret: str) -> None:
        self.record = record
        self.secret = secret


def _check_patterns(field: str, patterns: list[str]) -> None:
    if len(patterns) > _MAX_PATTERNS:
        raise ValueError(f"{field}: at most {_MAX_PATTERNS} patterns")
    for pattern in patterns:
        if len(pattern) > 256 or not _NAME.fullmatch(pattern):
            raise ValueError(f"{field}: {pattern!r} is not a valid pattern")
        fnmatch.translate(pattern)
    if field == "endpoints" and any(not p.startswith(("/", "*")) for p in patterns):
        raise ValueError("endpoints: patterns are paths and start with '/' (e.g. /v1/embeddings)")


def _check_limits(limits: dict[str, object]) -> None:
    for field, value in limits.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_LIMIT):
            raise ValueError(f"{field}: a whole number from 1 to {_MAX_LIMIT}, or null for no limit")


def _check_budget(usd: object, period: object, soft: object, reroute: object) -> None:
    if usd is not None:
        if not isinstance(usd, int | float) or isinstance(usd, bool) or not 0 <= usd <= 1e9:
            raise ValueError("budget_usd: a number of US dollars from 0 to 1e9")
        if period is None:
            raise ValueError("budget_period: day, week, month or total, with budget_usd")
    if soft is not None and (not isinstance(soft, int | float) or not 0 < soft < 1):
        raise ValueError("budget_soft_limit: a share between 0 and 1 (e.g. 0.8)")
    if reroute is not None and (not isinstance(reroute, str) or not _NAME.fullmatch(reroute)):
        raise ValueError("budget_reroute_model: a model name")


def check_spec(
    *,
    name: str | None = None,
    team: str | None = None,
    models: list[str] | None = None,
    endpoints: list[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Raise `ValueError` naming the field when a value is unusable."""
    if name is not None and not _NAME.fullmatch(name):
        raise ValueError("name: 1 to 128 printable characters")
    if team is not None and not _NAME.fullmatch(team):
        raise ValueError("team: 1 to 128 printable characters")
    if models is not None:
        _check_patterns("models", models)
    if endpoints is not None:
        _check_patterns("endpoints", endpoints)
    if metadata is not None:
        if len(metadata) > _MAX_METADATA:
            raise ValueError(f"metadata: at most {_MAX_METADATA} entries")
        for key, value in metadata.items():
            if not _NAME.fullmatch(key) or not _VALUE.fullmatch(value):
                raise ValueError(f"metadata: bad entry {key!r}")


class KeyManager:
    """The operations on keys. Every change goes through the store, so all gateway processes see it."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    async def create(self, spec: KeySpec) -> CreatedKey:
        check_spec(name=spec.name, team=spec.team, models=spec.models, endpoints=spec.endpoints, metadata=spec.metadata)
        _check_limits({"rpm": spec.rpm, "tpm": spec.tpm, "max_parallel": spec.max_parallel})
        _check_budget(spec.budget_usd, spec.budget_period, spec.budget_soft_limit, spec.budget_reroute_model)
        secret = new_secret()
        record = KeyRecord(
            id=new_key_id(),
            name=spec.name,
            prefix=display_prefix(secret),
            team=spec.team,
            models=list(spec.models),
            endpoints=list(spec.endpoints),
            metadata=dict(spec.metadata),
            created_at=time.time(),
            expires_at=spec.expires_at,
            rpm=spec.rpm,
            tpm=spec.tpm,
            max_parallel=spec.max_parallel,
            budget_usd=spec.budget_usd,
            budget_period=spec.budget_period,
            budget_soft_limit=spec.budget_soft_limit,
            budget_reroute_model=spec.budget_reroute_model,
        )
        return CreatedKey(await self.store.insert(record, digest_of(secret)), secret)

    async def get(self, key_id: str) -> KeyRecord:
        record = await self.store.get(key_id)
        if record is None:
            raise KeyNotFound(key_id)
        return record

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        return await self.store.list_keys(team)

    async def update(self, key_id: str, changes: KeyChanges) -> KeyRecord:
        fields = changes.as_dict()
        check_spec(
            name=changes.name or None,
            team=changes.team or None,
            models=changes.models or None,
            endpoints=changes.endpoints or None,
            metadata=changes.metadata or None,
        )
        _check_limits({k: v for k, v in fields.items() if k in ("rpm", "tpm", "max_parallel")})
        current = await self.get(key_id)
        _check_budget(
            *(
                fields.get(name, getattr(current, name))
                for name in ("budget_usd", "budget_period", "budget_soft_limit", "budget_reroute_model")
            )
        )
        if not fields:
            return await self.get(key_id)
        return _found(await self.store.update(key_id, fields), key_id)

    async def revoke(self, key_id: str) -> KeyRecord:
        record = await self.get(key_id)
        if record.revoked_at is not None:
            return record
        return _found(await self.store.update(key_id, {"revoked_at": time.time()}), key_id)

    async def rotate(self, key_id: str, *, grace_secs: float = 0.0) -> CreatedKey:
        """A new secret for the key; the old one keeps working for `grace_secs` (0: stops at once)."""
        if grace_secs < 0:
            raise ValueError("grace: must be >= 0")
        current = {s.record.id: s for s in await self.store.changes_since(0)}.get(key_id)
        if current is None:
            raise KeyNotFound(key_id)
        if current.record.revoked_at is not None:
            raise ValueError("a revoked key cannot be rotated")
        now = time.time()
        secret = new_secret()
        fields: dict[str, object] = {
            "digest": digest_of(secret),
            "prefix": display_prefix(secret),
            "rotated_at": now,
            "previous_digest": current.digest if grace_secs > 0 else None,
            "previous_valid_until": now + grace_secs if grace_secs > 0 else None,
        }
        return CreatedKey(_found(await self.store.update(key_id, fields), key_id), secret)


def _found(record: KeyRecord | None, key_id: str) -> KeyRecord:
    if record is None:
        raise KeyNotFound(key_id)
    return record
