"""`FakeBedrock`: a real HTTP server on a loopback port that answers like AWS Bedrock Runtime's Converse API."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from types import TracebackType
from urllib.parse import unquote

from aiohttp import web

from ._bedrock_wire import bedrock_error, check_converse_request, render_converse
from ._plan import Plan
from ._records import ReceivedRequest
from ._reply import Reply
from ._send import Progress, ResetByReply, send_plan
from ._sigv4 import AwsKeys, verify_sigv4

__all__ = ["FakeBedrock"]

_ROUTE = re.compile(r"/model/(?P<model>[^/]+)/(?P<operation>converse|converse-stream)")


class FakeBedrock:
    """A scripted Bedrock Runtime on `127.0.0.1:<ephemeral port>`, started by `start()` or `async with`.

    It serves `POST /model/{modelId}/converse` (JSON) and `/converse-stream` (`application/vnd.amazon.eventstream`
    framing) as AWS does: every request must carry a valid SigV4 signature by `keys` for `region` and service
    `bedrock` (else 403 with AWS's exception names), and its body must pass the checks AWS makes (the botocore
    service model's `Converse` shape, a first user turn, alternating roles, a `toolConfig` when the history holds
    tool blocks; else 400 `ValidationException`). Each accepted request takes the next queued `Reply` (FIFO), else
    `default`: its `answer` as a Converse answer, `status >= 400` as an AWS error named by `error_type` (default:
    the exception AWS sends for that status), `error_after_chunks=N` as N stream events then an exception event;
    the timing and failure modes of `Reply` apply as in `FakeUpstream`.

    `requests` lists every request received; `model_ids` the decoded model id of each routed one.
    """

    def __init__(self, *, keys: AwsKeys | None = None, region: str = "us-east-1", default: Reply | None = None) -> None:
        self.keys = keys or AwsKeys()
        self.region = region
        self.default = default if default is not None else Reply()
        self.requests: list[ReceivedRequest] = []
        self.model_ids: list[str] = []
        self._queue: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeBedrock is already started")
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

    async def __aenter__(self) -> FakeBedrock:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the provider's `base_url`, or boto3's `endpoint_url`."""
        if not self._port:
            raise RuntimeError("FakeBedrock is not started")
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
        self.requests.append(
            ReceivedRequest(request.method, path, request.query_string, headers, body, time.monotonic())
        )
        plan, reply = self._plan(request, path, headers, body)
        try:
            async with asyncio.timeout(30.0):
                return await send_plan(request, plan, reply, Progress())
        except (ConnectionResetError, ResetByReply):
            return web.Response(status=499)

    def _plan(self, request: web.Request, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[Plan, Reply]:
        plain = Reply()
        route = _ROUTE.fullmatch(path)
        if route is None or request.method != "POST":
            return bedrock_error(404, "UnknownOperationException", f"No operation at {request.method} {path}"), plain
        query = f"?{request.query_string}" if request.query_string else ""
        url = f"http://{request.host}{path}{query}"
        problem = verify_sigv4(request.method, url, headers, body, self.keys, region=self.region, service="bedrock")
        if problem is not None:
            return bedrock_error(403, problem.exception, problem.message), plain
        model_id = unquote(route["model"])
        self.model_ids.append(model_id)
        invalid = check_converse_request(model_id, body, stream=route["operation"] == "converse-stream")
        if invalid is not None:
            return bedrock_error(400, "ValidationException", invalid), plain
        reply = self._queue.popleft() if self._queue else self.default
        return render_converse(reply, stream=route["operation"] == "converse-stream"), reply
