"""`GatewayServer`: a real gateway on an ephemeral loopback port, in the current event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from lunaroute.config import Config, config_from_mapping
from lunaroute.server import ConfigSource, create_app, make_runner

__all__ = ["GatewayFactory", "GatewayServer", "upstream_config"]


def upstream_config(upstream_url: str, **overrides: Any) -> dict[str, Any]:
    """A config mapping whose built-in providers point at `upstream_url` (a `FakeUpstream.url`)."""
    raw: dict[str, Any] = {
        "providers": {
            "openai": {"base_url": f"{upstream_url}/v1"},
            "anthropic": {"base_url": upstream_url},
        },
        # Tests opt in to recording with their own paths; never write to the user's home.
        "session_recording": {"enabled": False},
    }
    for key, value in overrides.items():
        if key == "providers":
            for name, pconf in value.items():
                raw["providers"][name] = {**raw["providers"].get(name, {}), **pconf}
        else:
            raw[key] = value
    return raw


class GatewayServer:
    """Serve `config` (a `Config` or a raw mapping) on 127.0.0.1:<free port> until the context exits.

    With `source` (the file `config` was loaded from) the gateway can reload its config."""

    def __init__(
        self,
        config: Config | Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        *,
        source: ConfigSource | None = None,
    ) -> None:
        if not isinstance(config, Config):
            config = config_from_mapping(dict(config), env=env or {})
        self.config = config
        self._source = source
        self._env = env or {}
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.app = create_app(self.config, self._env, self._source)
        runner = make_runner(self.app, self.config.http_server)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> GatewayServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


GatewayFactory = Callable[..., Awaitable[GatewayServer]]
"""`await factory(env=None, **config_overrides)` starts a gateway in front of a fake upstream (a test fixture)."""
