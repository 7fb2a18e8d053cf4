"""The real Claude Code and Codex CLI through the gateway, in passthrough, against the fake upstream.

`scripts/install-real-clients [PREFIX]` installs both clients with npm outside the repository; the tests look for
`PREFIX/node_modules/.bin/{claude,codex}` with PREFIX from `$LUNAROUTE_CLIENTS_PREFIX` (default
`/opt/lunaroute-clients`) and are skipped when a client is absent (in CI, with `CI=true`, they fail instead).

Each client runs as a subprocess with a temporary home and the settings that keep it off the network, pointed at
a transparent loopback tap in front of the gateway. The tap records every byte the client sent, so the tests can
compare the client's own request bytes with the bytes the fake upstream received.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests._needs import missing

from lunaroute.testing import Answer, FakeUpstream, ReceivedRequest, Reply, ToolCall
from lunaroute.testing._gateway import GatewayFactory, GatewayServer
from lunaroute.testing._plan import plan_reply

pytestmark = pytest.mark.e2e

CLIENTS_PREFIX = Path(os.environ.get("LUNAROUTE_CLIENTS_PREFIX", "/opt/lunaroute-clients"))
CLIENT_TIMEOUT = 60.0
CLAUDE_MODEL = "claude-sonnet-4-6"
CODEX_MODEL = "gpt-5.5"
CLIENT_KEY = "sk-ant-real-client"
CODEX_KEY = "sk-codex-real-client"
MARKER = "lunaroute-ok"

# Request headers the gateway does not pass on as the client sent them: hop-by-hop ones, the ones it sets itself,
# and `accept-encoding`, which it replaces by `identity` for streamed requests.
NOT_FORWARDED = {
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "accept-encoding",
}


# -- the clients -----------------------------------------------------------------------------------------------


def _client_binary(name: str) -> Path:
    binary = CLIENTS_PREFIX / "node_modules" / ".bin" / name
    if not os.access(binary, os.X_OK):
        missing(name, f"not installed in {CLIENTS_PREFIX} (run scripts/install-real-clients)")
    return binary


@pytest.fixture
def claude_bin() -> Path:
    return _client_binary("claude")


@pytest.fixture
def codex_bin() -> Path:
    return _client_binary("codex")


@dataclass(frozen=True, slots=True)
class ClientRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


async def _run_client(argv: list[str], env: dict[str, str], cwd: Path) -> ClientRun:
    """Run a client to completion with no stdin; kill its whole process group after `CLIENT_TIMEOUT`."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), CLIENT_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"{Path(argv[0]).name} did not finish within {CLIENT_TIMEOUT:.0f} s (killed)")
    finally:
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    seconds = time.monotonic() - started
    return ClientRun(proc.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"), seconds)


def _offline_env(home: Path) -> dict[str, str]:
    """A minimal environment: no inherited keys, proxies or client settings, a temporary home."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


async def _claude(
    claude_bin: Path, base_url: str, tmp_path: Path, prompt: str, *args: str, key: str = CLIENT_KEY
) -> ClientRun:
    env = _offline_env(tmp_path / "home")
    env.update(
        {
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "ANTHROPIC_MODEL": CLAUDE_MODEL,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": CLAUDE_MODEL,
            "ANTHROPIC_DEFAULT_SONNET_MODEL": CLAUDE_MODEL,
            "ANTHROPIC_DEFAULT_OPUS_MODEL": CLAUDE_MODEL,
        }
    )
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return await _run_client([str(claude_bin), "-p", prompt, "--model", CLAUDE_MODEL, *args], env, workdir)


CODEX_CONFIG = """\
model = "{model}"
model_provider = "lunaroute"
check_for_update_on_startup = false
# The scripted tool call runs a fixed `echo`; no sandbox, since containers often lack the kernel features for one.
approval_policy = "never"
sandbox_mode = "danger-full-access"

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
apps = false

[model_providers.lunaroute]
name = "LunaRoute"
base_url = "{base_url}/v1"
env_key = "LUNAROUTE_TEST_CODEX_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


async def _codex(codex_bin: Path, base_url: str, tmp_path: Path, prompt: str, *, key: str = CODEX_KEY) -> ClientRun:
    env = _offline_env(tmp_path / "home")
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(CODEX_CONFIG.format(model=CODEX_MODEL, base_url=base_url))
    env.update({"CODEX_HOME": str(codex_home), "LUNAROUTE_TEST_CODEX_KEY": key})
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    argv = [str(codex_bin), "exec", "--skip-git-repo-check", "--ephemeral", prompt]
    return await _run_client(argv, env, workdir)


# -- a recording TCP tap between the client and the gateway -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One HTTP/1.1 message as it crossed the wire: start line, headers in order, the decoded body."""

    start_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def method(self) -> str:
        return self.start_line.split(" ", 1)[0]

    @property
    def target(self) -> str:
        return self.start_line.split(" ", 2)[1]

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ", 2)[1])


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request exactly as the client wrote it and the response exactly as the gateway wrote it."""

    request: Message
    response: Message


def _read_message(data: bytes, pos: int, has_body: bool) -> tuple[Message, int]:
    """The message starting at `pos` (body by Content-Length or chunked) and the position after it."""
    end = data.index(b"\r\n\r\n", pos)
    start_line, *lines = data[pos:end].decode("latin-1").split("\r\n")
    headers = [(name.strip(), value.strip()) for name, value in (line.split(":", 1) for line in lines)]
    fields = {name.lower(): value for name, value in headers}
    pos = end + 4
    body = bytearray()
    if not has_body:
        pass
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        while True:
            line_end = data.index(b"\r\n", pos)
            size = int(data[pos:line_end].split(b";", 1)[0], 16)
            pos = line_end + 2
            if size == 0:
                pos = pos + 2 if data[pos : pos + 2] == b"\r\n" else data.index(b"\r\n\r\n", pos) + 4
                break
            body += data[pos : pos + size]
            pos += size + 2
    else:
        length = int(fields.get("content-length", "0"))
        body += data[pos : pos + length]
        pos += length
    return Message(start_line, headers, bytes(body)), pos


@dataclass(slots=True)
class Connection:
    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)

    def exchanges(self) -> list[Exchange]:
        """The connection's requests, each with its response (HTTP/1.1 keep-alive, no pipelining)."""
        sent, received = bytes(self.sent), bytes(self.received)
        exchanges: list[Exchange] = []
        sent_pos = received_pos = 0
        while sent_pos < len(sent):
            request, sent_pos = _read_message(sent, sent_pos, has_body=True)
            response, received_pos = _read_message(received, received_pos, has_body=request.method != "HEAD")
            exchanges.append(Exchange(request, response))
        return exchanges


class Tap:
    """A transparent TCP relay on 127.0.0.1 in front of `target_port`, recording each connection both ways."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: list[Connection] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exchanges(self) -> list[Exchange]:
        return [exchange for conn in self.connections for exchange in conn.exchanges()]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection()
        self.connections.append(conn)
        writers = [client_writer]
        try:
            gw_reader, gw_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            writers.append(gw_writer)
            await asyncio.gather(
                self._pump(client_reader, gw_writer, conn.sent), self._pump(gw_reader, client_writer, conn.received)
            )
        finally:
            for writer in writers:
                writer.close()
                with suppress(ConnectionError, asyncio.CancelledError):
                    await writer.wait_closed()
            self._tasks.discard(task)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray) -> None:
        try:
            while data := await reader.read(65536):
                record += data
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except ConnectionError:
            writer.close()


@pytest.fixture
async def tap(gateway: GatewayServer) -> AsyncIterator[Tap]:
    relay = Tap(gateway.port)
    await relay.start()
    yield relay
    await relay.close()


# -- checks -----------------------------------------------------------------------------------------------------


def _posts(tap: Tap, path: str) -> list[Exchange]:
    return [x for x in tap.exchanges() if x.request.method == "POST" and x.request.target.split("?")[0] == path]


def _assert_passed_through(exchange: Exchange, received: ReceivedRequest, reply: Reply, provider: str) -> None:
    """The upstream got the client's request unchanged (target, body bytes, end-to-end headers), and the client
    got the upstream's answer unchanged (status, content type, body bytes) from `provider`."""
    sent, answered = exchange.request, exchange.response
    path, _, query = sent.target.partition("?")
    assert (received.method, received.path, received.query_string) == (sent.method, path, query)
    assert received.body == sent.body
    for name, value in sent.headers:
        if name.lower() not in NOT_FORWARDED:
            assert received.header(name) == value, name
    plan = plan_reply(reply, received.method, received.path, received.query_string, received.headers, received.body)
    assert answered.status == plan.status
    assert answered.header("content-type") == dict(plan.headers)["Content-Type"]
    assert answered.body == b"".join(plan.chunks)
    assert answered.header("x-lunaroute-provider") == provider


def _report(run: ClientRun) -> str:
    return f"exit {run.returncode} after {run.seconds:.1f}s\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"


def _text_of(content: Any) -> str:
    """The text of a tool result's content: a string, or a list of text blocks."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


# -- Claude Code --------------------------------------------------------------------------------------------------


async def test_claude_code_print_mode(claude_bin: Path, upstream: FakeUpstream, tap: Tap, tmp_path: Path) -> None:
    reply = Reply(answer=Answer(text="Hi from the fake upstream, via LunaRoute."))
    upstream.enqueue(reply)

    run = await _claude(claude_bin, tap.url, tmp_path, "Say hi")

    assert run.returncode == 0, _report(run)
    assert "Hi from the fake upstream, via LunaRoute." in run.stdout, _report(run)
    # The start-up probe is answered by the gateway itself and never reaches the upstream.
    probes = [x for x in tap.exchanges() if (x.request.method, x.request.target) == ("HEAD", "/")]
    assert probes, "Claude Code sent no HEAD / probe"
    assert all(probe.response.status == 200 for probe in probes)
    assert [(r.method, r.path, r.query_string) for r in upstream.requests] == [("POST", "/v1/messages", "beta=true")]
    [exchange] = _posts(tap, "/v1/messages")
    received = upstream.requests[0]
    _assert_passed_through(exchange, received, reply, "anthropic")
    assert received.header("x-api-key") == CLIENT_KEY
    assert received.header("anthropic-version") == "2023-06-01"
    assert "claude-code-20250219" in (received.header("anthropic-beta") or "").split(",")
    body = received.json()
    assert body["stream"] is True
    assert body["model"] == CLAUDE_MODEL
    assert len(body["tools"]) >= 10
    assert "Bash" in {tool["name"] for tool in body["tools"]}
    assert len(body["system"]) >= 2
    assert any("cache_control" in block for block in body["system"])
    assert body["metadata"]["user_id"]
    assert "Say hi" in json.dumps(body["messages"][-1])


async def test_claude_code_tool_round_trip(claude_bin: Path, upstream: FakeUpstream, tap: Tap, tmp_path: Path) -> None:
    call = ToolCall(
        name="Bash",
        arguments=json.dumps({"command": f"echo {MARKER}", "description": "Print a marker"}),
        id="toolu_lunaroute_1",
    )
    replies = (
        Reply(answer=Answer(thinking="Run the command.", thinking_signature="sig-lunaroute", tool_calls=(call,))),
        Reply(answer=Answer(text="The command printed the marker.")),
    )
    upstream.enqueue(*replies)

    run = await _claude(claude_bin, tap.url, tmp_path, "Run the echo command", "--allowedTools", "Bash(echo:*)")

    assert run.returncode == 0, _report(run)
    assert "The command printed the marker." in run.stdout, _report(run)
    exchanges = _posts(tap, "/v1/messages")
    assert len(exchanges) == len(upstream.requests) == 2
    for exchange, received, reply in zip(exchanges, upstream.requests, replies, strict=True):
        _assert_passed_through(exchange, received, reply, "anthropic")
    second = upstream.requests[1].json()
    assert second["stream"] is True
    assistant, user = second["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert {"type": "thinking", "thinking": "Run the command.", "signature": "sig-lunaroute"} in assistant["content"]
    tool_use = next(block for block in assistant["content"] if block["type"] == "tool_use")
    assert (tool_use["id"], tool_use["name"]) == (call.id, "Bash")
    assert tool_use["input"]["command"] == f"echo {MARKER}"
    result = next(block for block in user["content"] if block.get("type") == "tool_result")
    assert result["tool_use_id"] == call.id
    assert not result.get("is_error")
    assert MARKER in _text_of(result["content"])


# -- Codex CLI ----------------------------------------------------------------------------------------------------


async def test_codex_exec(codex_bin: Path, upstream: FakeUpstream, tap: Tap, tmp_path: Path) -> None:
    reply = Reply(answer=Answer(text="Hi from the fake upstream, via LunaRoute."))
    upstream.enqueue(reply)

    run = await _codex(codex_bin, tap.url, tmp_path, "Say hi")

    assert run.returncode == 0, _report(run)
    assert "Hi from the fake upstream, via LunaRoute." in run.stdout, _report(run)
    assert [(r.method, r.path) for r in upstream.requests] == [("POST", "/v1/responses")]
    [exchange] = _posts(tap, "/v1/responses")
    received = upstream.requests[0]
    _assert_passed_through(exchange, received, reply, "openai")
    assert received.header("authorization") == f"Bearer {CODEX_KEY}"
    assert received.header("originator") == "codex_exec"
    assert received.header("accept") == "text/event-stream"
    body = received.json()
    assert body["stream"] is True
    assert body["model"] == CODEX_MODEL
    assert body["store"] is False
    assert len(body["tools"]) >= 3
    assert body["input"][0]["role"] == "developer"
    assert "Say hi" in json.dumps(body["input"][-1])


async def test_codex_function_call_round_trip(
    codex_bin: Path, upstream: FakeUpstream, tap: Tap, tmp_path: Path
) -> None:
    call = ToolCall(name="exec_command", arguments=json.dumps({"cmd": f"echo {MARKER}"}), id="call_lunaroute_1")
    replies = (
        Reply(answer=Answer(tool_calls=(call,))),
        Reply(answer=Answer(text="The command printed the marker.")),
    )
    upstream.enqueue(*replies)

    run = await _codex(codex_bin, tap.url, tmp_path, "Run the echo command")

    assert run.returncode == 0, _report(run)
    assert "The command printed the marker." in run.stdout, _report(run)
    exchanges = _posts(tap, "/v1/responses")
    assert len(exchanges) == len(upstream.requests) == 2
    for exchange, received, reply in zip(exchanges, upstream.requests, replies, strict=True):
        _assert_passed_through(exchange, received, reply, "openai")
    assert "exec_command" in {tool.get("name") for tool in upstream.requests[0].json()["tools"]}
    second = upstream.requests[1].json()
    assert second["stream"] is True
    items = {
        item["type"]: item for item in second["input"] if item["type"] in ("function_call", "function_call_output")
    }
    assert items["function_call"]["call_id"] == call.id
    assert items["function_call"]["name"] == "exec_command"
    assert json.loads(items["function_call"]["arguments"]) == {"cmd": f"echo {MARKER}"}
    assert items["function_call_output"]["call_id"] == call.id
    assert MARKER in _text_of(items["function_call_output"]["output"])


# -- Claude Code on an OpenAI-dialect provider (translated) -------------------------------------------------------


async def test_claude_code_on_openai_dialect_provider(
    claude_bin: Path, upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        providers={"local": {"provider_type": "openai", "base_url": f"{upstream.url}/v1", "model": "local-model"}},
        routing={"rules": [{"name": "claude-anywhere", "model_pattern": "^claude-", "primary": "local"}]},
    )
    call = ToolCall(
        name="Bash",
        arguments=json.dumps({"command": f"echo {MARKER}", "description": "Print a marker"}),
        id="call_lunaroute_1",
    )
    upstream.enqueue(
        Reply(answer=Answer(tool_calls=(call,))),
        Reply(answer=Answer(text="Translated both ways.")),
    )

    run = await _claude(claude_bin, gateway.url, tmp_path, "Run the echo command", "--allowedTools", "Bash(echo:*)")

    assert run.returncode == 0, _report(run)
    assert "Translated both ways." in run.stdout, _report(run)
    assert [r.path for r in upstream.requests] == ["/v1/chat/completions", "/v1/chat/completions"]
    first, second = (r.json() for r in upstream.requests)
    assert first["model"] == "local-model"
    assert first["stream"] is True
    assert first["messages"][0]["role"] == "system"
    assert "Bash" in {tool["function"]["name"] for tool in first["tools"]}
    assert upstream.requests[0].header("authorization") == f"Bearer {CLIENT_KEY}"
    tool_message = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_message["tool_call_id"] == call.id
    assert MARKER in json.dumps(tool_message["content"])


# -- with a gateway key ---------------------------------------------------------------------------------------------


@pytest.fixture
async def keyed_gateway(make_gateway: GatewayFactory, tmp_path: Path) -> tuple[GatewayServer, str]:
    """A gateway with `auth.mode: keys` and provider keys configured; yields it and a fresh `lr-` key."""
    from lunaroute.keys import KeyManager, KeySpec, open_key_store

    db = str(tmp_path / "keys.db")
    store = await open_key_store(db)
    created = await KeyManager(store).create(KeySpec(name="real-client"))
    await store.aclose()
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db},
        providers={"openai": {"api_key": PROVIDER_OPENAI_KEY}, "anthropic": {"api_key": PROVIDER_ANTHROPIC_KEY}},
    )
    return gateway, created.secret


PROVIDER_OPENAI_KEY = "sk-provider-openai-key"
PROVIDER_ANTHROPIC_KEY = "sk-ant-provider-key"


async def test_claude_code_with_a_gateway_key(
    claude_bin: Path, upstream: FakeUpstream, keyed_gateway: tuple[GatewayServer, str], tmp_path: Path
) -> None:
    gateway, secret = keyed_gateway
    upstream.enqueue(Reply(answer=Answer(text="Hi through a gateway key.")))

    run = await _claude(claude_bin, gateway.url, tmp_path, "Say hi", key=secret)

    assert run.returncode == 0, _report(run)
    assert "Hi through a gateway key." in run.stdout, _report(run)
    [received] = upstream.requests
    assert received.header("x-api-key") == PROVIDER_ANTHROPIC_KEY
    assert secret not in repr(received.headers)
    assert secret.encode() not in received.body


async def test_codex_with_a_gateway_key_in_env_key(
    codex_bin: Path, upstream: FakeUpstream, keyed_gateway: tuple[GatewayServer, str], tmp_path: Path
) -> None:
    gateway, secret = keyed_gateway
    upstream.enqueue(Reply(answer=Answer(text="Hi through a gateway key.")))

    run = await _codex(codex_bin, gateway.url, tmp_path, "Say hi", key=secret)

    assert run.returncode == 0, _report(run)
    assert "Hi through a gateway key." in run.stdout, _report(run)
    [received] = upstream.requests
    assert received.header("authorization") == f"Bearer {PROVIDER_OPENAI_KEY}"
    assert secret not in repr(received.headers)


async def test_claude_code_with_a_wrong_gateway_key_fails_cleanly(
    claude_bin: Path, upstream: FakeUpstream, keyed_gateway: tuple[GatewayServer, str], tmp_path: Path
) -> None:
    gateway, _ = keyed_gateway
    started = time.monotonic()
    run = await _claude(claude_bin, gateway.url, tmp_path, "Say hi", key="lr-" + "w" * 43)
    # `x-should-retry: false` on the 401 stops Claude Code's retries: it fails at once, naming the cause.
    assert run.returncode != 0
    assert "invalid LunaRoute API key" in run.stdout + run.stderr, _report(run)
    assert time.monotonic() - started < 30
    assert upstream.requests == []


async def test_claude_code_on_gemini_provider(
    claude_bin: Path, upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        providers={
            "gemini": {
                "provider_type": "gemini",
                "base_url": upstream.url,
                "api_key": "g-key",
                "model": "gemini-2.5-pro",
            }
        },
        routing={"rules": [{"name": "claude-on-gemini", "model_pattern": "^claude-", "primary": "gemini"}]},
    )
    call = ToolCall(name="Bash", arguments=json.dumps({"command": f"echo {MARKER}", "description": "Print a marker"}))
    upstream.enqueue(
        Reply(answer=Answer(thinking="Run it.", thinking_signature="Z2VtaW5pLXNpZw==", tool_calls=(call,))),
        Reply(answer=Answer(text="Gemini saw the marker.")),
    )

    run = await _claude(claude_bin, gateway.url, tmp_path, "Run the echo command", "--allowedTools", "Bash(echo:*)")

    assert run.returncode == 0, _report(run)
    assert "Gemini saw the marker." in run.stdout, _report(run)
    stream = "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert [r.path for r in upstream.requests] == [stream, stream]
    first, second = (r.json() for r in upstream.requests)
    assert first["systemInstruction"]["parts"]
    assert "Bash" in {d["name"] for d in first["tools"][0]["functionDeclarations"]}
    assert upstream.requests[0].header("x-goog-api-key") == "g-key"
    model_turn = second["contents"][-2]
    [function_call] = [part for part in model_turn["parts"] if "functionCall" in part]
    assert function_call["functionCall"]["name"] == "Bash"
    # Claude Code drops the thinking of an answer from another model than the one it asked for (here
    # gemini-2.5-pro), signature included: the call goes back with the signature Google documents for that case.
    assert function_call["thoughtSignature"] == "skip_thought_signature_validator"
    [response] = [part["functionResponse"] for part in second["contents"][-1]["parts"] if "functionResponse" in part]
    assert (response["id"], response["name"]) == (function_call["functionCall"]["id"], "Bash")
    assert MARKER in json.dumps(response["response"])
