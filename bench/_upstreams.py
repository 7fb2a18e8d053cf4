"""Upstreams to proxy to: nginx with a generated config, else a fast aiohttp server; and a slow-stream server.

Run as a script it is the aiohttp upstream: `python _upstreams.py PORT fast|ttfb|bedrock|bedrock-ttfb [PAUSE]`.
`fast` answers JSON at once, or the whole event stream when the request carries the stream header;
`ttfb` writes the first SSE event at once and the rest after the pause (for time-to-first-byte). The `bedrock`
modes do the same as Bedrock's Converse API (`/converse`: JSON, `/converse-stream`: the AWS event stream); they
do not check signatures (the fake Bedrock of the tests does), so the upstream costs what nginx's answers cost.
Gemini model paths (`...:generateContent`, `...:streamGenerateContent`) get Gemini's JSON and event stream
instead of OpenAI's, in both; Vertex's Claude paths (`...:rawPredict`, `...:streamRawPredict`) Anthropic's; and
`POST /token` an OAuth access token.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

from _payloads import (
    STREAM_HEADER,
    TOKEN_REPLY,
    anthropic_json_reply,
    anthropic_sse_events,
    anthropic_sse_reply,
    converse_events,
    converse_reply,
    gemini_json_reply,
    gemini_sse_events,
    gemini_sse_reply,
    json_reply,
    sse_events,
    sse_reply,
)

__all__ = ["aiohttp_upstream_argv", "nginx_argv", "write_nginx_conf"]

_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  etag off;
  server {{
    listen 127.0.0.1:{port};
    location = /token {{
      default_type application/json;
      return 200 '{token}';
    }}
    location ~ ":rawPredict$" {{
      default_type application/json;
      return 200 '{anthropic_json}';
    }}
    location ~ ":streamRawPredict$" {{ rewrite ^ /__anthropic_events last; }}
    location = /__anthropic_events {{
      internal;
      default_type text/event-stream;
      alias {dir}/anthropic-events.txt;
      error_page 405 =200 $uri;
    }}
    location ~ ":generateContent$" {{
      default_type application/json;
      return 200 '{gemini_json}';
    }}
    location ~ ":streamGenerateContent$" {{ rewrite ^ /__gemini_events last; }}
    location = /__gemini_events {{
      internal;
      default_type text/event-stream;
      alias {dir}/gemini-events.txt;
      error_page 405 =200 $uri;
    }}
    location / {{
      if ($http_{stream_var}) {{ rewrite ^ /__events last; }}
      default_type application/json;
      return 200 '{json}';
    }}
    location = /__events {{
      internal;
      default_type text/event-stream;
      alias {dir}/events.txt;
      # The static module refuses POST; re-enter as GET to serve the file.
      error_page 405 =200 $uri;
    }}
  }}
}}
"""


def write_nginx_conf(directory: Path, port: int) -> Path:
    """Write nginx.conf and events.txt into `directory` (made readable for nginx's unprivileged worker)."""
    directory.chmod(0o755)
    bodies = (
        ("events.txt", sse_reply()),
        ("gemini-events.txt", gemini_sse_reply()),
        ("anthropic-events.txt", anthropic_sse_reply()),
    )
    for name, body in bodies:
        events = directory / name
        events.write_bytes(body)
        events.chmod(0o644)
    conf = directory / "nginx.conf"
    stream_var = STREAM_HEADER.replace("-", "_")
    text = _NGINX_CONF.format(
        dir=directory,
        port=port,
        stream_var=stream_var,
        json=json_reply(),
        gemini_json=gemini_json_reply(),
        anthropic_json=anthropic_json_reply(),
        token=TOKEN_REPLY,
    )
    conf.write_text(text)
    return conf


def nginx_argv(binary: str, conf: Path) -> list[str]:
    """The command that runs nginx in the foreground on `conf` (prefix and error log in its directory)."""
    return [binary, "-c", str(conf), "-p", f"{conf.parent}/", "-e", str(conf.parent / "nginx-error.log")]


def aiohttp_upstream_argv(port: int, mode: str, pause: float = 0.0) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), str(port), mode, str(pause)]


def _fast_app() -> web.Application:
    json_body = json_reply().encode()
    stream_body = sse_reply()
    gemini_json, gemini_stream = gemini_json_reply().encode(), gemini_sse_reply()
    anthropic_json, anthropic_stream = anthropic_json_reply().encode(), anthropic_sse_reply()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        if request.path == "/token":
            return web.Response(body=TOKEN_REPLY.encode(), content_type="application/json")
        if request.path.endswith(":streamRawPredict"):
            return web.Response(body=anthropic_stream, content_type="text/event-stream")
        if request.path.endswith(":rawPredict"):
            return web.Response(body=anthropic_json, content_type="application/json")
        if request.path.endswith(":streamGenerateContent"):
            return web.Response(body=gemini_stream, content_type="text/event-stream")
        if request.path.endswith(":generateContent"):
            return web.Response(body=gemini_json, content_type="application/json")
        if STREAM_HEADER in request.headers:
            return web.Response(body=stream_body, content_type="text/event-stream")
        return web.Response(body=json_body, content_type="application/json")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    return app


def _ttfb_app(pause: float) -> web.Application:
    streams = {
        ":streamGenerateContent": gemini_sse_events(),
        ":streamRawPredict": anthropic_sse_events(),
        "": sse_events(),
    }
    split = {suffix: (events[0], b"".join(events[1:])) for suffix, events in streams.items()}

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.path == "/token":
            return web.Response(body=TOKEN_REPLY.encode(), content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        head, tail = next(parts for suffix, parts in split.items() if request.path.endswith(suffix))
        await response.write(head)
        await asyncio.sleep(pause)
        await response.write(tail)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    return app


_EVENT_STREAM = "application/vnd.amazon.eventstream"


def _bedrock_app(pause: float | None) -> web.Application:
    """Converse answers; with `pause`, the first frame of a stream at once and the rest after the pause."""
    json_body = converse_reply()
    first, *rest = converse_events()
    rest_body = b"".join(rest)

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        if not request.path.endswith("/converse-stream"):
            return web.Response(body=json_body, content_type="application/json")
        if pause is None:
            return web.Response(body=first + rest_body, headers={"content-type": _EVENT_STREAM})
        response = web.StreamResponse(headers={"content-type": _EVENT_STREAM})
        await response.prepare(request)
        await response.write(first)
        await asyncio.sleep(pause)
        await response.write(rest_body)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    return app


def _main(argv: list[str]) -> None:
    port, mode = int(argv[0]), argv[1]
    pause = float(argv[2]) if len(argv) > 2 else 0.0
    if mode.startswith("bedrock"):
        app = _bedrock_app(pause if mode == "bedrock-ttfb" else None)
    else:
        app = _fast_app() if mode == "fast" else _ttfb_app(pause)
    loop = None
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    _main(sys.argv[1:])
