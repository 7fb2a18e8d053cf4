"""Build the UI listener's application from the config: the session store, prices, the API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from lunaroute.config import Config
from lunaroute.recording._crypto import reader_cipher
from lunaroute.recording.query import SqliteSessionStore, list_price
from lunaroute.ui.api import create_api_app
from lunaroute.ui.pages import add_pages

__all__ = ["build_ui_app", "price_of"]

price_of = list_price
"""The list-price `PriceFn` (kept under its old name; see `lunaroute.recording.query.list_price`)."""

UI_STORE: web.AppKey[SqliteSessionStore] = web.AppKey("ui_store", SqliteSessionStore)


def build_ui_app(config: Config) -> web.Application:
    """The UI application (the JSON API and the web pages); its session store closes with it."""
    recording = config.session_recording
    store = SqliteSessionStore(Path(recording.sqlite.path or "sessions.db"), price=list_price)
    jsonl_dir = Path(recording.jsonl.directory) if recording.jsonl.enabled and recording.jsonl.directory else None
    # Session files sealed at rest are opened with the configured keys.
    cipher = reader_cipher(recording.encryption)
    app = create_api_app(
        store,
        jsonl_dir=jsonl_dir,
        cipher=cipher,
        export_enabled=config.ui.export_enabled,
        delete_enabled=config.ui.delete_enabled,
        auth_token=config.ui.auth_token,
    )
    app[UI_STORE] = store
    add_pages(
        app,
        store,
        jsonl_dir=jsonl_dir,
        cipher=cipher,
        export_enabled=config.ui.export_enabled,
        delete_enabled=config.ui.delete_enabled,
        auth_token=config.ui.auth_token,
        price=price_of,
    )

    async def close_store(_: web.Application) -> None:
        await store.close()

    app.on_cleanup.append(close_store)
    return app
