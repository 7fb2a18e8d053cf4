"""The stylesheet, scripts and icon of the pages, shipped as package data under `lunaroute/ui/static/`."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

__all__ = ["StaticAssets"]

_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


class StaticAssets:
    """The files of `lunaroute/ui/static/` (read once, when constructed), served by name from memory.

    Only files directly in that folder with a known suffix are served, so no request path can reach
    anything else; they are the same for every installation and hold nothing secret.
    """

    def __init__(self) -> None:
        self._files: dict[str, tuple[bytes, str]] = {}
        folder = resources.files("lunaroute.ui").joinpath("static")
        for entry in folder.iterdir():
            suffix = "." + entry.name.rpartition(".")[2]
            if entry.is_file() and suffix in _TYPES:
                self._files[entry.name] = (entry.read_bytes(), _TYPES[suffix])

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._files)

    def response(self, name: str) -> web.Response:
        """The file `name`, or a plain 404."""
        found = self._files.get(name)
        if found is None:
            return web.Response(status=404, text="not found")
        body, content_type = found
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    async def handle(self, request: web.Request) -> web.Response:
        """The route handler of `/static/{name}`."""
        return self.response(request.match_info["name"])
