"""The OpenAPI 3.1 description of the admin API (`GET /admin/openapi.json`), kept beside its routes."""

from __future__ import annotations

from typing import Any

from lunaroute import __version__

__all__ = ["openapi_document"]

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
_PATTERNS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 256}, "maxItems": 100}
_METADATA = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 1024}, "maxProperties": 50}

_KEY = {
    "type": "object",
    "required": ["id", "name", "prefix", "models", "endpoints", "metadata", "created_at", "version", "status"],
    "properties": {
        "id": {"type": "string", "pattern": "^key_[0-9a-f]{16}$"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "The first characters of the secret, for recognising it."},
        "team": _NULLABLE_STRING,
        "models": {**_PATTERNS, "description": "Model patterns the key may use (shell-style); empty: all."},
        "endpoints": {**_PATTERNS, "description": "Path patterns the key may call (shell-style); empty: all."},
        "metadata": _METADATA,
        "created_at": {"type": "number", "description": "UTC epoch seconds."},
        "expires_at": _NULLABLE_NUMBER,
        "revoked_at": _NULLABLE_NUMBER,
        "last_used_at": _NULLABLE_NUMBER,
        "rotated_at": _NULLABLE_NUMBER,
        "previous_valid_until": _NULLABLE_NUMBER,
        "rpm": _NULLABLE_INT,
        "tpm": _NULLABLE_INT,
        "max_parallel": _NULLABLE_INT,
        "budget_usd": _NULLABLE_NUMBER,
        "budget_period": {"type": ["string", "null"], "enum": ["day", "week", "month", "total", None]},
        "budget_soft_limit": _NULLABLE_NUMBER,
        "budget_reroute_model": _NULLABLE_STRING,
        "version": {"type": "integer"},
        "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
    },
}
_CREATED = {
    "allOf": [
        {"$ref": "#/components/schemas/Key"},
        {
            "type": "object",
            "required": ["key"],
            "properties": {"key": {"type": "string", "description": "The secret, shown this once."}},
        },
    ]
}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"}
_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": _TEXT,
        "team": {"anyOf": [_TEXT, {"type": "null"}]},
        "models": _PATTERNS,
        "endpoints": _PATTERNS,
        "metadata": _METADATA,
        "expires_at": {**_NULLABLE_NUMBER, "description": "UTC epoch seconds; null: never."},
        "rpm": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 2000000000,
            "description": "Requests per minute; null: no limit.",
        },
        "tpm": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 2000000000,
            "description": "Tokens per minute; null: no limit.",
        },
        "max_parallel": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 2000000000,
            "description": "Requests at once.",
        },
        "budget_usd": {"type": ["number", "null"], "minimum": 0, "maximum": 1e9, "description": "Spend cap (USD)."},
        "budget_period": {"type": ["string", "null"], "enum": ["day", "week", "month", "total", None]},
        "budget_soft_limit": {"type": ["number", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "budget_reroute_model": {"anyOf": [_TEXT, {"type": "null"}]},
    },
}
_UPDATE = {**_CREATE, "required": []}
_ROTATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "grace_secs": {"type": "number", "minimum": 0, "description": "How long the old secret keeps working."}
    },
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_RELOAD = {
    "type": "object",
    "required": ["source", "loaded_at", "reloads", "watching", "last_attempt_at", "last_trigger", "last_result"],
    "properties": {
        "source": {**_NULLABLE_STRING, "description": "The config file reloads read; null: the built-in defaults."},
        "loaded_at": {"type": "number", "description": "When the running config was loaded (UTC epoch seconds)."},
        "reloads": {"type": "integer", "minimum": 0, "description": "Successful reloads since start-up."},
        "watching": {"type": "boolean", "description": "Whether the config file is watched (reload.watch)."},
        "last_attempt_at": _NULLABLE_NUMBER,
        "last_trigger": {"type": ["string", "null"], "enum": ["signal", "admin", "watch", None]},
        "last_result": {"type": ["string", "null"], "enum": ["ok", "error", None]},
        "last_error": {**_NULLABLE_STRING, "description": "Why the last reload was refused; null after a success."},
    },
}
_CONFIG_ANSWER = {
    "type": "object",
    "required": ["config", "reload"],
    "properties": {
        "config": {"type": "object", "description": "The effective config, secrets masked."},
        "reload": {"$ref": "#/components/schemas/ReloadStatus"},
    },
}
_RELOAD_ANSWER = {
    "type": "object",
    "required": ["reload"],
    "properties": {"reload": {"$ref": "#/components/schemas/ReloadStatus"}},
}
_RELOAD_REFUSED = {
    "allOf": [
        {"$ref": "#/components/schemas/Error"},
        {
            "type": "object",
            "required": ["reload"],
            "properties": {"reload": {"$ref": "#/components/schemas/ReloadStatus"}},
        },
    ]
}
_PROVIDER = {
    "type": "object",
    "required": ["name", "dialect", "base_url", "breaker", "health", "in_flight", "last_error"],
    "properties": {
        "name": {"type": "string"},
        "dialect": {"type": "string", "enum": ["openai", "anthropic", "any"]},
        "base_url": _NULLABLE_STRING,
        "breaker": {"type": "string", "enum": ["closed", "open", "half_open"]},
        "health": {
            "type": ["object", "null"],
            "description": "Success rate and latency over routing.health.window_secs; null before any request.",
            "required": ["status", "requests"],
            "properties": {
                "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy", "unknown"]},
                "requests": {"type": "integer"},
                "success_rate": _NULLABLE_NUMBER,
                "latency_p50_s": _NULLABLE_NUMBER,
                "latency_p95_s": _NULLABLE_NUMBER,
                "ewma_latency_s": _NULLABLE_NUMBER,
                "last_failure": _NULLABLE_STRING,
            },
        },
        "in_flight": {"type": "integer", "minimum": 0},
        "last_error": {**_NULLABLE_STRING, "description": "The kind of the provider's most recent failure."},
    },
}
_ROUTE_QUERY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["model"],
    "properties": {
        "model": {"type": "string", "description": "The model the request asks for."},
        "dialect": {"type": "string", "enum": ["anthropic", "openai"], "default": "anthropic"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 50},
        "path": {**_NULLABLE_STRING, "description": "Upstream path; default /messages or /chat/completions."},
    },
}
_ROUTE_STEP = {
    "type": "object",
    "required": ["provider", "dialect", "translated", "model_sent", "base_url"],
    "properties": {
        "provider": {"type": "string"},
        "dialect": {"type": "string"},
        "translated": {"type": "boolean"},
        "model_sent": {"type": "string"},
        "base_url": _NULLABLE_STRING,
    },
}
_ROUTE = {
    "type": "object",
    "required": ["dialect", "model", "reason", "rule", "chain"],
    "properties": {
        "dialect": {"type": "string"},
        "model": {"type": "string"},
        "reason": {"type": "string"},
        "rule": _NULLABLE_STRING,
        "chain": {"type": "array", "items": {"$ref": "#/components/schemas/RouteStep"}},
    },
}
_DELETED = {
    "type": "object",
    "required": ["session_id", "deleted_from", "files_removed"],
    "properties": {
        "session_id": {"type": "string"},
        "deleted_from": {"type": "array", "items": {"type": "string", "enum": ["sqlite", "postgres", "jsonl"]}},
        "files_removed": {"type": "integer", "minimum": 0},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad input",
        401: "Missing or wrong admin key",
        404: "Not found (no such key or session)",
        422: "No provider serves the request",
        503: "A session store cannot be reached",
    }
    return {str(s): _answer(reasons[s], _ref("Error")) for s in statuses}


def _body(name: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document() -> dict[str, Any]:
    """The admin API's OpenAPI document (a new dict each call)."""
    key_list = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": _ref("Key")}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "LunaRoute admin API", "version": __version__},
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Key": _KEY,
                "CreatedKey": _CREATED,
                "KeyCreate": _CREATE,
                "KeyUpdate": _UPDATE,
                "KeyRotate": _ROTATE,
                "Error": _ERROR,
                "ReloadStatus": _RELOAD,
                "ConfigAnswer": _CONFIG_ANSWER,
                "ReloadAnswer": _RELOAD_ANSWER,
                "ReloadRefused": _RELOAD_REFUSED,
                "Provider": _PROVIDER,
                "RouteQuery": _ROUTE_QUERY,
                "RouteStep": _ROUTE_STEP,
                "Route": _ROUTE,
                "DeletedSession": _DELETED,
            },
        },
        "security": [{"admin": []}],
        "paths": {
            **_operations(),
            "/admin/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _answer("The OpenAPI document", {"type": "object"}), **_errors(401)},
                }
            },
            "/admin/keys": {
                "get": {
                    "summary": "List keys, oldest first",
                    "parameters": [{"name": "team", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": _answer("Keys", key_list), **_errors(401)},
                },
                "post": {
                    "summary": "Create a key; the answer holds its secret, shown this once",
                    "requestBody": _body("KeyCreate"),
                    "responses": {"201": _answer("The new key", _ref("CreatedKey")), **_errors(400, 401)},
                },
            },
            "/admin/keys/{key_id}": {
                "parameters": [_KEY_ID],
                "get": {
                    "summary": "One key",
                    "responses": {"200": _answer("The key", _ref("Key")), **_errors(401, 404)},
                },
                "patch": {
                    "summary": "Change a key's name, team, scopes, metadata or expiry",
                    "requestBody": _body("KeyUpdate"),
                    "responses": {"200": _answer("The key", _ref("Key")), **_errors(400, 401, 404)},
                },
            },
            "/admin/keys/{key_id}/revoke": {
                "parameters": [_KEY_ID],
                "post": {
                    "summary": "Revoke a key (every gateway process refuses it within auth.refresh_interval_ms)",
                    "responses": {"200": _answer("The key", _ref("Key")), **_errors(401, 404)},
                },
            },
            "/admin/keys/{key_id}/rotate": {
                "parameters": [_KEY_ID],
                "post": {
                    "summary": "A new secret; the old one keeps working for grace_secs",
                    "requestBody": _body("KeyRotate", required=False),
                    "responses": {"200": _answer("The key", _ref("CreatedKey")), **_errors(400, 401, 404)},
                },
            },
        },
    }


def _operations() -> dict[str, Any]:
    providers = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": _ref("Provider")}},
    }
    session_id = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/admin/config": {
            "get": {
                "summary": "The effective config (secrets masked) and the status of the last reload",
                "responses": {"200": _answer("Config and reload status", _ref("ConfigAnswer")), **_errors(401)},
            }
        },
        "/admin/reload": {
            "post": {
                "summary": "Re-read the config file; a file that does not validate keeps the running config",
                "responses": {
                    "200": _answer("Reloaded", _ref("ReloadAnswer")),
                    "422": _answer("Refused: the running config is kept", _ref("ReloadRefused")),
                    **_errors(401),
                },
            }
        },
        "/admin/providers": {
            "get": {
                "summary": "Every provider: breaker state, health, requests in flight, last error",
                "responses": {"200": _answer("Providers", providers), **_errors(401)},
            }
        },
        "/admin/route": {
            "post": {
                "summary": "Which providers would serve a request (the `lunaroute route` dry run; nothing is sent)",
                "requestBody": _body("RouteQuery"),
                "responses": {"200": _answer("The decision", _ref("Route")), **_errors(400, 401, 422)},
            }
        },
        "/admin/sessions/{session_id}": {
            "parameters": [session_id],
            "delete": {
                "summary": "Delete a recorded session from every configured store (SQLite, PostgreSQL, JSONL)",
                "responses": {
                    "200": _answer("Deleted", _ref("DeletedSession")),
                    **_errors(401, 404, 503),
                },
            },
        },
    }
