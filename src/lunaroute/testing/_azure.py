"""`FakeAzure`: a real HTTP server on a loopback port that answers like an Azure OpenAI resource."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Iterable
from types import TracebackType

from aiohttp import web

from ._plan import Plan, plan_reply
from ._records import ReceivedRequest
from ._reply import Reply
from ._send import Progress, ResetByReply, send_plan

__all__ = ["FakeAzure"]

_DEPLOYMENT = re.compile(r"/openai/deployments/(?P<deployment>[^/]+)(?P<tail>/.+)")
_V1 = re.compile(r"/openai/v1(?P<tail>/.+)")
_BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)


def _azure_error(status: int, code: str, message: str) -> Plan:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Plan(status, [("content-type", "application/json")], [body], chunked=False)


class FakeAzure:
    """A scripted Azure OpenAI resource on `127.0.0.1:<ephemeral port>`, started by `start()` or `async with`.

    It serves `{url}/openai/deployments/{deployment}/...?api-version=...` and `{url}/openai/v1/...` (the
    deployment then in the body's `model`) as Azure does: a request needs `api-key: <api_key>` or
    `Authorization: Bearer <token>` (on `v1`, the key is also accepted as a bearer token), else 401; a dated path
    needs `api-version`, else 404; a deployment not in `deployments` is 404 `DeploymentNotFound`. Accepted requests
    are answered like OpenAI's API by the next queued `Reply` (FIFO), else `default`, as `FakeUpstream` answers.

    `requests` lists every request received; `deployments_called` the deployment of each accepted one.
    """

    def __init__(
        self,
        *,
        deployments: Iterable[str] = ("gpt-4o",),
        api_key: str = "azure-key",
        token: str = "entra-token",
        default: Reply | None = None,
    ) -> None:
        self.deployments = set(deployments)
        self.api_key = api_key
        self.token = token
        self.default = default if default is not None else Reply()
        self.requests: list[ReceivedRequest] = []
        self.deployments_called: list[str] = []
        self._queue: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeAzure is already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            self._port = 0

    async def __aenter__(self) -> FakeAzure:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the resource endpoint (`azure_endpoint`, the provider's `base_url`)."""
        if not self._port:
            raise RuntimeError("FakeAzure is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def last_request(self) -> ReceivedRequest:
        return self.requests[-1]

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies for the next accepted requests, in order; once used up, `default` answers."""
        self._queue.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        path = request.rel_url.raw_path
        received = ReceivedRequest(request.method, path, request.query_string, headers, body, time.monotonic())
        self.requests.append(received)
        plan, reply = self._plan(received)
        try:
            async with asyncio.timeout(30.0):
                return await send_plan(request, plan, reply, Progress())
        except (ConnectionResetError, ResetByReply):
            return web.Response(status=499)

    def _authorized(self, received: ReceivedRequest, *, v1: bool) -> bool:
        key = received.header("api-key")
        bearer = received.header("authorization") or ""
        token = bearer[7:] if bearer[:7].lower() == "bearer " else None
        return key == self.api_key or token == self.token or (v1 and token == self.api_key)

    def _plan(self, received: ReceivedRequest) -> tuple[Plan, Reply]:
        plain = Reply()
        dated, v1 = _DEPLOYMENT.fullmatch(received.path), _V1.fullmatch(received.path)
        if dated is None and v1 is None:
            return _azure_error(404, "404", "Resource not found"), plain
        if not self._authorized(received, v1=v1 is not None):
            return _azure_error(401, "401", _BAD_KEY), plain
        if dated is not None:
            if "api-version=" not in received.query_string:
                return _azure_error(404, "404", "Resource not found"), plain
            deployment, tail = dated["deployment"], dated["tail"]
        else:
            assert v1 is not None
            tail = v1["tail"]
            try:
                model = json.loads(received.body).get("model") if received.body else None
            except ValueError:
                model = None
            deployment = model if isinstance(model, str) else ""
        if deployment not in self.deployments:
            message = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."
            return _azure_error(404, "DeploymentNotFound", message), plain
        self.deployments_called.append(deployment)
        reply = self._queue.popleft() if self._queue else self.default
        return plan_reply(reply, received.method, f"/v1{tail}", "", received.headers, received.body), reply
