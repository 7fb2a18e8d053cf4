"""The UI listener: the read-only session JSON API (`create_api_app`, `build_ui_app` from the config)."""

from lunaroute.ui._serve import build_ui_app, price_of
from lunaroute.ui.api import RawRequest, create_api_app

__all__ = ["RawRequest", "build_ui_app", "create_api_app", "price_of"]
