"""The web pages of the UI listener: dashboard, session list, session detail, and their static files.

`add_pages` mounts them on the application `create_api_app` builds; they read the same store, and the
dashboard's script reads the JSON API. Every page is rendered with escaping by construction (`_html`) and
served with a strict Content-Security-Policy (`_layout.CSP`): no inline script or style, no other origin.
"""

from lunaroute.ui.pages._layout import CSP
from lunaroute.ui.pages._routes import add_pages

__all__ = ["CSP", "add_pages"]
