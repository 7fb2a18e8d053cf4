"""`FakeUpstream`: a real HTTP server on a loopback port that answers like the OpenAI and Anthropic APIs."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from ._google import TOKEN_PATH, TokenIssuer
from ._plan import plan_reply
from ._records import Abort, ReceivedRequest
from ._reply import Reply
from ._send import Progress, ResetByReply, send_plan

__all__ = ["FakeUpstream"]


class FakeUpstream:
    """A scripted upstream on `127.0.0.1:<ephemeral port>`, started by `start()` or `async with`.

    It serves `POST /v1/chat/completions`, `/v1/completions`, `/v1/responses`, `/v1/embeddings`,
    `/v1/messages`, `/v1/messages/count_tokens` and `GET /v1/models` (also without `/v1`); the Gemini API
    (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`, key in
    `x-goog-api-key`); Vertex AI (`/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:...` and
    `publishers/anthropic/models/{m}:rawPredict|streamRawPredict`, `count-tokens:rawPredict`), accepting only
    bearer tokens its OAuth endpoint `POST /token` issued (`tokens`; a service-account file's `token_uri`). Any
    other path gets a JSON echo of its method, path, query and body. Each request takes the next `Reply` queued with
    `enqueue()` (FIFO), else `default`.

    `requests` lists every request received, in arrival order. `aborts` lists the responses whose client
    went away before they were finished, with the monotonic time the server noticed (a disconnect cancels
    the handler at once, also while it sleeps). A reply running past `max_reply_seconds` has its connection
    reset, and `stop()` cancels whatever is still running, so no test can hang on the fake.
    """

    def __init__(
        self,
        *,
        default: Reply | None = None,
        max_reply_seconds: float = 30.0,
        responder: Callable[[ReceivedRequest], Reply | None] | None = None,
    ) -> None:
        self.default = default if default is not None else Reply()
        self.responder = responder
        """Chooses the reply from the request itself (for concurrent traffic); None falls back to the queue."""
        self.requests: list[ReceivedRequest] = []
        self.aborts: list[Abort] = []
        self.max_reply_seconds = max_reply_seconds
        self.tokens = TokenIssuer()
        """The OAuth token endpoint's grants (`tokens.lifetime_secs` sets the next tokens' `expires_in`)."""
        self._queue: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._stopping = False
        self._handlers: set[asyncio.Task[object]] = set()
        self._changed: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind an ephemeral loopback port and start serving."""
        if self._runner is not None:
            raise RuntimeError("FakeUpstream is already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._changed = asyncio.Event()
        self._stopping = False
        self._runner = runner

    async def stop(self) -> None:
        """Cancel running replies (not counted as aborts), close connections and free the port."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        for task in list(self._handlers):
            task.cancel()
        await runner.cleanup()
        self._port = 0

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- addresses -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeUpstream is not started")
        return self._port

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint, for a service-account file's `token_uri`."""
        return f"{self.url}{TOKEN_PATH}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's `base_url`: `url + "/v1"`."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's `base_url`: the root (the SDK adds `/v1`)."""
        return self.url

    # -- scripting and inspection ----------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order; once used up, `default` answers."""
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Queued replies not used yet."""
        return len(self._queue)

    @property
    def aborted(self) -> int:
        """How many responses were abandoned by their client."""
        return len(self.aborts)

    @property
    def last_request(self) -> ReceivedRequest:
        """The most recent request (raises `IndexError` when none arrived)."""
        return self.requests[-1]

    def reset(self) -> None:
        """Forget requests, aborts and queued replies (`default` stays)."""
        self.requests.clear()
        self.aborts.clear()
        self._queue.clear()

    async def wait_for_requests(self, count: int = 1, within: float = 5.0) -> list[ReceivedRequest]:
        """Wait until `count` requests arrived in total; raises `TimeoutError` after `within` seconds."""
        await self._wait(lambda: len(self.requests) >= count, within)
        return list(self.requests)

    async def wait_for_abort(self, count: int = 1, within: float = 5.0) -> Abort:
        """Wait until `count` aborts were noticed in total and return the latest; `TimeoutError` after
        `within` seconds."""
        await self._wait(lambda: len(self.aborts) >= count, within)
        return self.aborts[-1]

    async def _wait(self, done: Callable[[], bool], within: float) -> None:
        changed = self._changed
        if changed is None:
            raise RuntimeError("FakeUpstream is not started")
        async with asyncio.timeout(within):
            while not done():
                changed.clear()
                await changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # -- serving ---------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            return await self._answer(request)
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        path = request.rel_url.raw_path  # as sent: percent-escapes kept
        received = ReceivedRequest(request.method, path, request.query_string, headers, body, time.monotonic())
        self.requests.append(received)
        self._notify()
        if path == TOKEN_PATH and request.method == "POST":
            status, answer = self.tokens.grant(body)
            return web.Response(status=status, body=answer, content_type="application/json")
        chosen = self.responder(received) if self.responder is not None else None
        reply = chosen or (self._queue.popleft() if self._queue else self.default)
        plan = plan_reply(reply, request.method, path, request.query_string, headers, body, self.tokens)
        progress = Progress()
        try:
            async with asyncio.timeout(self.max_reply_seconds):
                return await send_plan(request, plan, reply, progress)
        except asyncio.CancelledError:
            if not self._stopping and not progress.reset:
                self._record_abort(received, progress)
            raise
        except ConnectionResetError:
            if not progress.reset:
                self._record_abort(received, progress)
            return web.Response(status=499)
        except ResetByReply:
            return web.Response(status=499)
        except TimeoutError:
            # The reply ran past its time budget: drop the connection so the client sees a failure.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)

    def _record_abort(self, received: ReceivedRequest, progress: Progress) -> None:
        self.aborts.append(Abort(received, time.monotonic(), progress.chunks_sent))
        self._notify()
