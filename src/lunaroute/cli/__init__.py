"""The `lunaroute` command line."""

from lunaroute.cli._main import main

__all__ = ["main"]
