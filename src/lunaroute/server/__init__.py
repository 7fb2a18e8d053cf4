"""The inbound side: the aiohttp application, its handlers, the stream relay and the runner."""

from lunaroute.server._app import create_app
from lunaroute.server._reload import ConfigSource
from lunaroute.server._runner import make_runner, open_listener, run, serve

__all__ = ["ConfigSource", "create_app", "make_runner", "open_listener", "run", "serve"]
