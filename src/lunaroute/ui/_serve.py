"""Build the UI listener's application from the config: the session store, prices, the API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from lunaroute.config import Config
from lunaroute.hosts import HostCheck
from lunaroute.recording._crypto import reader_cipher
from lunaroute.recording.query import SessionStore, list_price, open_store
from lunaroute.ui._budgets import add_budget_api
from lunaroute.ui._middleware import request_log_middleware
from lunaroute.ui._providers import ProviderStatus, add_provider_api
from lunaroute.ui.api import create_api_app
from lunaroute.ui.pages import add_pages

__all__ = ["build_ui_app", "price_of"]

price_of = list_price
"""The list-price `PriceFn` (kept under its old name; see `lunaroute.recording.query.list_price`)."""

UI_STORE: web.AppKey[SessionStore] = web.AppKey("ui_store")


def ui_store(config: Config) -> SessionStore:
    """The store `ui.database` names: the SQLite file, or the PostgreSQL database the replicas record into."""
    recording = config.session_recording
    pg = recording.postgres
    if config.ui.database == "sqlite":
        return open_store(
            Path(recording.sqlite.path or "sessions.db"),
            price=list_price,
            max_connections=recording.sqlite.max_connections,
            log_sql=config.logging.log_sql_queries,
        )
    dsn = pg.connection_string if config.ui.database == "postgres" else config.ui.database
    return open_store(dsn, price=list_price, schema=pg.schema, max_connections=pg.max_connections)


def build_ui_app(config: Config, providers: ProviderStatus | None = None) -> web.Application:
    """The UI application (the JSON API and the web pages); its session store closes with it. `providers` reads
    the running gateway's provider health (None: a UI without a gateway in its process)."""
    store = ui_store(config)
    jsonl_dir = _sessions_dir(config)
    # Session files sealed at rest are opened with the configured keys.
    cipher = reader_cipher(config.session_recording.encryption)
    app = create_api_app(
        store,
        jsonl_dir=jsonl_dir,
        cipher=cipher,
        export_enabled=config.ui.export_enabled,
        delete_enabled=config.ui.delete_enabled,
        auth_token=config.ui.auth_token,
        hosts=HostCheck(config.ui.host, config.ui.allowed_hosts),
    )
    app[UI_STORE] = store
    add_budget_api(app, config)
    add_provider_api(app, providers)
    add_pages(
        app,
        store,
        jsonl_dir=jsonl_dir,
        cipher=cipher,
        export_enabled=config.ui.export_enabled,
        delete_enabled=config.ui.delete_enabled,
        auth_token=config.ui.auth_token,
        price=price_of,
        refresh_secs=config.ui.refresh_interval,
        keyed=config.auth.mode == "keys",
    )
    if config.ui.log_requests:
        app.middlewares.insert(0, request_log_middleware())

    async def close_store(_: web.Application) -> None:
        await store.close()

    app.on_cleanup.append(close_store)
    return app


def _sessions_dir(config: Config) -> Path | None:
    """Where the UI reads session files: `ui.sessions_dir`, else the JSONL writer's directory (when it writes)."""
    if config.ui.sessions_dir:
        return Path(config.ui.sessions_dir)
    jsonl = config.session_recording.jsonl
    return Path(jsonl.directory) if jsonl.enabled and jsonl.directory else None
