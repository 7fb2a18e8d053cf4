"""Keys of a Rust LunaRoute config whose meaning here differs from what the Rust server did with them, for
`lunaroute config check` (read from the file's own keys, so only what the file sets is reported)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunaroute.config._loader import MAX_RETRIES

__all__ = ["rust_differences"]

_PROVIDER_KEYS: dict[str, str] = {
    "request_headers": "the Rust server sent them on the normalized OpenAI path only; here every request to this "
    "provider carries them",
    "request_body": "the Rust server applied it on the normalized OpenAI path only; here passthrough chat "
    "completions get it too (the body is then re-encoded)",
    "response_body": "parsed but never applied by the Rust server; here added to chat completions answers when enabled",
    "model": "the Rust server used it only when a LUNAROUTE marker chose this provider; here it replaces the "
    "model whenever this provider serves (marker, rule or fallback)",
}
_HTTP_CLIENT_KEYS: dict[str, str] = {
    "pool_max_idle_per_host": "Rust capped idle connections kept per host; here it caps all connections to the "
    "host (busy and idle), and requests beyond it wait for a free one",
    "enable_pool_metrics": "no effect in the Rust server; here it exports lunaroute_upstream_pool_* in /metrics",
    "max_retries": "the Rust server never retried passthrough requests; here every request to this provider is "
    "retried (before the first byte only) on connect errors, timeouts, 408/429/5xx",
}
_KEYS: dict[tuple[str, ...], str] = {
    ("http_server", "tcp_nodelay"): "only logged by the Rust server; here false is refused (always on)",
    ("http_server", "tcp_keepalive_secs"): "only logged by the Rust server; here set on the listening socket",
    ("http_server", "send_buffer_size"): "ignored by the Rust server; here set on the listening socket",
    ("http_server", "recv_buffer_size"): "ignored by the Rust server; here set on the listening socket",
    ("routing", "rules"): "ignored by the Rust server (its rules were hard-coded); here requests are routed by them",
    ("routing", "provider_switch_notification"): "the Rust server used it in its normalized router only; here "
    "any fallback to another provider adds the notice",
    ("session_recording", "jsonl", "retention"): "ignored by the Rust server; here a cleanup task deletes and "
    "compresses old sessions",
    ("session_recording", "sqlite", "max_connections"): "ignored by the Rust server (5); here the read "
    "connections the UI opens",
    ("session_recording", "postgres"): "the Rust server wrote only to PostgreSQL when it was enabled; here it is "
    "written besides the enabled JSONL and SQLite stores",
    ("session_recording", "worker"): "ignored by the Rust server; here the recorder's batch size and timeout",
    ("session_recording", "pii"): "ignored by the Rust server; here recorded text is redacted",
    ("session_recording", "capture_user_agent"): "ignored by the Rust server; honoured here",
    ("session_recording", "max_user_agent_length"): "ignored by the Rust server (255); honoured here",
    ("logging", "log_requests"): "the Rust server logged request content at debug; here one access line per "
    "exchange, without content",
    ("session_stats_max_sessions",): "the Rust server printed the summary at debug level only; here it is logged "
    "at info when the gateway stops",
    ("ui", "export_enabled"): "display only in the Rust UI; here it turns the export endpoints on or off",
    ("ui", "delete_enabled"): "display only in the Rust UI; here it turns session deletion on or off",
}


def _get(raw: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = raw
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def rust_differences(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key path, how its meaning here differs from the Rust server's) for each such key `raw` sets."""
    out: list[tuple[str, str]] = []
    for path, note in _KEYS.items():
        if _get(raw, path)[0]:
            out.append((".".join(path), note))
    providers = raw.get("providers")
    if isinstance(providers, Mapping):
        for name, pconf in providers.items():
            if not isinstance(pconf, Mapping):
                continue
            for key, note in _PROVIDER_KEYS.items():
                if key in pconf:
                    out.append((f"providers.{name}.{key}", note))
            client = pconf.get("http_client")
            if isinstance(client, Mapping):
                for key, note in _HTTP_CLIENT_KEYS.items():
                    if key in client:
                        out.append((f"providers.{name}.http_client.{key}", note))
                retries = client.get("max_retries")
                if isinstance(retries, int) and retries > MAX_RETRIES:
                    out.append((f"providers.{name}.http_client.max_retries", f"clamped to {MAX_RETRIES}, as in Rust"))
    return out
