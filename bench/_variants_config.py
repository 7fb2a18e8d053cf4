"""The gateway configurations `variants.py` compares, their floors, and the Anthropic request it translates."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from _payloads import BENCH_KEY, chat_request

__all__ = [
    "ANTHROPIC_PATH",
    "OPENAI_PATH",
    "RESPONSES_PATH",
    "VARIANTS",
    "Floor",
    "Variant",
    "anthropic_request",
    "responses_request",
    "write_config",
]

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
RESPONSES_PATH = "/v1/responses"
RULE_COUNT = 100

_MODEL = "claude-sonnet-4-5"
_SYSTEM = "You are a concise assistant that answers questions about software performance. " * 6
_USER = "Explain why a reverse proxy adds latency and how event loops and connection pools reduce it. " * 15


def anthropic_request(stream: bool) -> bytes:
    """An Anthropic Messages request of about 2 KB (`max_tokens`, `system`, one user message): the same text as
    the chat request, so the two dialects carry the same payload."""
    body = {
        "model": _MODEL,
        "max_tokens": 256,
        "system": _SYSTEM.strip(),
        "messages": [{"role": "user", "content": _USER.strip()}],
        "temperature": 0.2,
        "stream": stream,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def responses_request(stream: bool) -> bytes:
    """A Responses API request of about 2 KB with the same text (`instructions`, `input`), `store: false` as Codex
    sends it (nothing is kept, so the variant measures translation alone)."""
    body = {
        "model": _MODEL,
        "instructions": _SYSTEM.strip(),
        "input": [{"role": "user", "content": [{"type": "input_text", "text": _USER.strip()}]}],
        "max_output_tokens": 256,
        "temperature": 0.2,
        "store": False,
        "stream": stream,
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Floor:
    """A throughput floor on the ratio of two variants' req/s @32 (json and streaming alike)."""

    numerator: str
    denominator: str
    minimum: float

    @property
    def label(self) -> str:
        return f"{self.numerator} / {self.denominator} ≥ {self.minimum:.2f}"


@dataclass(frozen=True)
class Variant:
    name: str
    summary: str
    config: str
    """YAML appended after the providers block (the upstream ports are filled in by `write_config`)."""
    path: str = OPENAI_PATH
    body: Callable[[bool], bytes] = chat_request
    floor: Floor | None = None
    max_ttfb_added_ms: float | None = None
    """Ceiling on the streaming TTFB this variant adds to passthrough's (None: reported only)."""
    prepare: Callable[[Path], None] | None = None
    """Run with the gateway's LUNAROUTE_HOME before it starts (e.g. to put the benchmark key in its store)."""
    providers: str = ""
    """YAML lines added inside the providers block (indented two spaces): `{upstream}` is the upstream's URL,
    `{upstream_port}` its port, `{bedrock_port}` the Bedrock upstream's port, `{home}` the gateway's LUNAROUTE_HOME."""
    upstream: Literal["openai", "bedrock"] = "openai"
    """Which upstream the variant's traffic reaches: nginx (OpenAI answers) or the Converse upstream."""
    openai_type: str = "openai"
    """The `provider_type` of the `openai` provider (`openai_chat`: it serves chat completions only)."""
    service_account: bool = False
    """Write `{home}/sa.json`, a service-account key whose token endpoint is the upstream's `/token`."""


_NO_RECORDING = "session_recording: {enabled: false}\n"

_RULES = "routing:\n  rules:\n" + "".join(
    f'    - {{name: miss-{i}, model_pattern: "^nomatch-{i}-", primary: openai}}\n' for i in range(RULE_COUNT)
)


def _store_bench_key(home: Path, *, limited: bool = False) -> None:
    """Put `BENCH_KEY` into the key store the gateway opens (`$LUNAROUTE_HOME/keys.db`); `limited`: with rpm,
    tpm and max-parallel limits far above what the load reaches, so every request is checked and admitted."""
    import asyncio

    from lunaroute.keys import KeyRecord, digest_of, display_prefix, open_key_store

    async def insert() -> None:
        store = await open_key_store(str(home / "keys.db"))
        try:
            record = KeyRecord(id="key_0000000000bec400", name="bench", prefix=display_prefix(BENCH_KEY), team="bench")
            if limited:
                record.rpm, record.tpm, record.max_parallel = 1_000_000_000, 1_000_000_000, 100_000
            await store.insert(record, digest_of(BENCH_KEY))
        finally:
            await store.aclose()

    asyncio.run(insert())


VARIANTS: tuple[Variant, ...] = (
    Variant("passthrough", "recording off (as run.py); the baseline", _NO_RECORDING),
    Variant(
        "recording",
        "session recording on: JSONL + SQLite in the temp dir, defaults otherwise",
        # The UI listener comes on with SQLite recording; an ephemeral port instead of 8082 (filled in later).
        "session_recording: {enabled: true}\nui: {port: {ui_port}}\n",
        floor=Floor("recording", "passthrough", 0.85),
    ),
    Variant(
        "translated",
        "Anthropic request to /v1/messages, routed to the OpenAI upstream: translated both ways",
        _NO_RECORDING + 'routing:\n  rules:\n    - {name: all, model_pattern: ".*", primary: openai}\n',
        path=ANTHROPIC_PATH,
        body=anthropic_request,
        floor=Floor("translated", "passthrough", 0.50),
        max_ttfb_added_ms=1.0,
    ),
    Variant(
        "bedrock",
        "OpenAI request routed to a Bedrock provider: translated to Converse, SigV4-signed, the AWS event stream "
        "decoded and translated back",
        _NO_RECORDING + 'routing:\n  rules:\n    - {name: all, model_pattern: ".*", primary: bedrock}\n',
        providers=(
            '  bedrock: {provider_type: bedrock, region: us-east-1, base_url: "http://127.0.0.1:{bedrock_port}", '
            "aws_access_key_id: AKIDBENCHMARK, aws_secret_access_key: bench-secret, "
            "model: anthropic.claude-sonnet-4-5-20250929-v1:0}\n"
        ),
        upstream="bedrock",
        floor=Floor("bedrock", "passthrough", 0.50),
    ),
    Variant(
        "azure",
        "OpenAI request passed through to an Azure OpenAI provider (deployment path, api-version, api-key)",
        _NO_RECORDING + 'routing:\n  rules:\n    - {name: all, model_pattern: ".*", primary: azure}\n',
        providers=(
            '  azure: {provider_type: azure, base_url: "http://127.0.0.1:{upstream_port}", api_version: "2024-10-21", '
            "api_key: bench-azure-key, deployments: {gpt-4o-mini: bench-deployment}}\n"
        ),
        floor=Floor("azure", "passthrough", 0.50),
    ),
    Variant(
        "responses-translated",
        "Responses API request to /v1/responses, the upstream a chat-completions-only provider: translated both ways",
        _NO_RECORDING,
        path=RESPONSES_PATH,
        body=responses_request,
        floor=Floor("responses-translated", "passthrough", 0.50),
        max_ttfb_added_ms=1.0,
        openai_type="openai_chat",
    ),
    Variant(
        "gemini",
        "OpenAI chat request routed to a Gemini API provider: translated both ways (Gemini's JSON and SSE)",
        _NO_RECORDING + 'routing:\n  rules:\n    - {name: all, model_pattern: ".*", primary: gemini}\n',
        providers='  gemini: {provider_type: gemini, base_url: "{upstream}", api_key: bench-gemini-key}\n',
        floor=Floor("gemini", "passthrough", 0.50),
        max_ttfb_added_ms=1.0,
    ),
    Variant(
        "vertex-claude",
        "Anthropic request to /v1/messages, routed to Claude on Vertex AI: passed through, the body rewritten "
        "(model into the URL, anthropic_version added), an OAuth token from a service-account file",
        _NO_RECORDING + 'routing:\n  rules:\n    - {name: all, model_pattern: ".*", primary: vertex}\n',
        providers=(
            '  vertex: {provider_type: vertex, base_url: "{upstream}", project: bench, location: us-east5,'
            ' publisher: anthropic, credentials_file: "{home}/sa.json"}\n'
        ),
        path=ANTHROPIC_PATH,
        body=anthropic_request,
        floor=Floor("vertex-claude", "passthrough", 0.50),
        max_ttfb_added_ms=1.0,
        service_account=True,
    ),
    Variant(
        "rules100",
        f"{RULE_COUNT} rules that do not match, then a catch-all to openai",
        _NO_RECORDING + _RULES + '    - {name: all, model_pattern: ".*", primary: openai}\n',
        floor=Floor("rules100", "passthrough", 0.95),
    ),
    Variant(
        "auth",
        "gateway keys on (auth.mode: keys, SQLite key store): every request's key checked and stripped",
        _NO_RECORDING + "auth: {mode: keys}\n",
        floor=Floor("auth", "passthrough", 0.95),
        prepare=_store_bench_key,
    ),
    Variant(
        "limits-memory",
        "keys on, the key with rpm, tpm and max-parallel limits, counters in process (state.backend: memory)",
        _NO_RECORDING + "auth: {mode: keys}\n",
        floor=Floor("limits-memory", "passthrough", 0.90),
        prepare=lambda home: _store_bench_key(home, limited=True),
    ),
    Variant(
        "limits-redis",
        "the same limits with the counters in Redis on 127.0.0.1:6379 (one Lua call per request, one per settle)",
        _NO_RECORDING
        + "auth: {mode: keys}\nstate: {backend: redis, redis_url: 'redis://127.0.0.1:6379/0', key_prefix: 'lunaroute-bench:'}\n",
        floor=Floor("limits-redis", "passthrough", 0.70),
        prepare=lambda home: _store_bench_key(home, limited=True),
    ),
    Variant(
        "no-metrics",
        "metrics off (observability.metrics.enabled: false): the baseline for the cost of metrics",
        _NO_RECORDING + "observability: {metrics: {enabled: false}}\n",
        floor=Floor("passthrough", "no-metrics", 0.90),
    ),
    Variant(
        "metrics+tracing",
        "metrics on and tracing sampled at 0.01 (spans built and dropped by a `none` exporter)",
        _NO_RECORDING + "observability: {tracing: {enabled: true, exporter: none, sampler: ratio, ratio: 0.01}}\n",
        floor=Floor("metrics+tracing", "no-metrics", 0.90),
    ),
)


def write_config(path: Path, variant: Variant, upstream_port: int, ui_port: int, bedrock_port: int = 0) -> Path:
    """The variant's gateway config against the upstream on `upstream_port` (both built-in providers point at
    it; a Bedrock provider at `bedrock_port`)."""
    upstream = f"http://127.0.0.1:{upstream_port}"
    if variant.service_account:
        from lunaroute.testing import write_service_account

        write_service_account(path.parent / "sa.json", f"{upstream}/token", project="bench")
    providers = (
        variant.providers.replace("{bedrock_port}", str(bedrock_port))
        .replace("{upstream_port}", str(upstream_port))
        .replace("{upstream}", upstream)
        .replace("{home}", str(path.parent))
    )
    path.write_text(
        "providers:\n"
        f'  openai: {{provider_type: {variant.openai_type}, base_url: "{upstream}/v1"}}\n'
        f'  anthropic: {{base_url: "{upstream}"}}\n'
        + providers
        + "http_server: {sse_keepalive_enabled: true}\n"
        + variant.config.replace("{ui_port}", str(ui_port))
    )
    return path
