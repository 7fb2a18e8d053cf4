"""Gateway API keys: the record and its secrets, the stores (SQLite, PostgreSQL), management and the cache."""

from lunaroute.keys._budget_status import BudgetStatus, budget_statuses
from lunaroute.keys._cache import KeyCache, Lookup
from lunaroute.keys._ledger import HOLD_S, BudgetLine, period_key
from lunaroute.keys._manage import CreatedKey, KeyManager, KeyNotFound, check_spec
from lunaroute.keys._record import (
    KEY_PREFIX,
    BudgetPeriod,
    KeyChanges,
    KeyRecord,
    KeySpec,
    digest_of,
    display_prefix,
    endpoint_allowed,
    looks_like_key,
    model_allowed,
    parse_duration,
)
from lunaroute.keys._store import KeyStore, StoredKey, open_key_store

__all__ = [
    "HOLD_S",
    "KEY_PREFIX",
    "BudgetLine",
    "BudgetPeriod",
    "BudgetStatus",
    "CreatedKey",
    "KeyCache",
    "KeyChanges",
    "KeyManager",
    "KeyNotFound",
    "KeyRecord",
    "KeySpec",
    "KeyStore",
    "Lookup",
    "StoredKey",
    "budget_statuses",
    "check_spec",
    "digest_of",
    "display_prefix",
    "endpoint_allowed",
    "looks_like_key",
    "model_allowed",
    "open_key_store",
    "parse_duration",
    "period_key",
]
