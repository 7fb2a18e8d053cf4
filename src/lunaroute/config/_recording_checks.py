"""Validation of `session_recording`: sampling and `required`, encryption keys, redaction patterns and PII
detectors (called by the loader once the document is decoded)."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from lunaroute.config._schema import (
    BUILTIN_DETECTORS,
    Config,
    RecordingEncryptionConfig,
    RedactionConfig,
    SessionRecordingConfig,
)
from lunaroute.errors import ConfigError

__all__ = ["RECORDING_KEY_BYTES", "decode_recording_key", "recording_keys", "validate_recording"]


def validate_recording(config: Config, source: str) -> None:
    rec = config.session_recording
    where = "$.session_recording"
    if not 0.0 <= rec.sample_rate <= 1.0:
        raise ConfigError("must be between 0 and 1", source=source, path=f"{where}.sample_rate")
    if rec.required and not rec.enabled:
        raise ConfigError(
            "recording cannot be required while session_recording.enabled is false",
            source=source,
            path=f"{where}.required",
        )
    if rec.required and rec.sample_rate < 1.0:
        raise ConfigError(
            "recording cannot be required while sample_rate leaves exchanges out",
            source=source,
            path=f"{where}.required",
        )
    for key, value in (
        ("worker.batch_size", rec.worker.batch_size),
        ("worker.max_queue_events", rec.worker.max_queue_events),
        ("max_capture_bytes", rec.max_capture_bytes),
        ("max_user_agent_length", rec.max_user_agent_length),
        ("postgres.max_connections", rec.postgres.max_connections),
        ("sqlite.max_connections", rec.sqlite.max_connections),
    ):
        if value <= 0:
            raise ConfigError("must be > 0", source=source, path=f"{where}.{key}")
    if not 0 <= rec.worker.nice <= 19:
        raise ConfigError("must be between 0 and 19", source=source, path=f"{where}.worker.nice")
    if rec.postgres.max_lifetime_seconds is not None and rec.postgres.max_lifetime_seconds <= 0:
        raise ConfigError("must be > 0 (or null: never)", source=source, path=f"{where}.postgres.max_lifetime_seconds")
    if rec.postgres.min_connections > rec.postgres.max_connections:
        raise ConfigError("must not exceed max_connections", source=source, path=f"{where}.postgres.min_connections")
    _validate_encryption(rec.encryption, source, f"{where}.encryption")
    _validate_redaction(rec.redaction, source, f"{where}.redaction")
    _validate_pii(rec, source, f"{where}.pii")


RECORDING_KEY_BYTES = 32
_HEX = frozenset("0123456789abcdefABCDEF")


def decode_recording_key(text: str) -> bytes:
    """The 32 bytes of a recording key written as 64 hex digits or base64 (standard or URL-safe, padding
    optional). Raises `ValueError` with a reason that never quotes the key."""
    value = text.strip()
    if value and len(value) % 2 == 0 and _HEX.issuperset(value):
        raw = bytes.fromhex(value)  # base64 of 32 bytes has 43 or 44 characters: never an even run of hex
    else:
        b64 = value.replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be 32 bytes as 64 hex digits or base64 (this is neither)") from None
    if len(raw) != RECORDING_KEY_BYTES:
        raise ValueError(f"must be 32 bytes as 64 hex digits or base64 (this one decodes to {len(raw)} bytes)")
    return raw


def _read_key_file(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the key file: {exc.strerror if isinstance(exc, OSError) else exc}") from None


def recording_keys(enc: RecordingEncryptionConfig) -> list[bytes]:
    """The keys of `session_recording.encryption`: `key` (or the content of `key_file`) first, then
    `previous_keys`; empty when none is set. Raises `ValueError` (the loader has already checked them)."""
    keys = []
    if enc.key is not None:
        keys.append(decode_recording_key(enc.key))
    elif enc.key_file is not None:
        keys.append(decode_recording_key(_read_key_file(enc.key_file)))
    keys.extend(decode_recording_key(k) for k in enc.previous_keys)
    return keys


def _validate_encryption(enc: RecordingEncryptionConfig, source: str, where: str) -> None:
    if enc.key is not None and enc.key_file is not None:
        raise ConfigError("set key or key_file, not both", source=source, path=where)
    if enc.enabled and enc.key is None and enc.key_file is None:
        raise ConfigError("encryption is enabled: set key (or key_file)", source=source, path=where)
    checks: list[tuple[str, str]] = []
    if enc.key is not None:
        checks.append(("key", enc.key))
    if enc.key_file is not None:
        try:
            checks.append(("key_file", _read_key_file(enc.key_file)))
        except ValueError as exc:
            raise ConfigError(str(exc), source=source, path=f"{where}.key_file") from None
    checks.extend((f"previous_keys[{i}]", k) for i, k in enumerate(enc.previous_keys))
    for key, text in checks:
        try:
            decode_recording_key(text)
        except ValueError as exc:
            raise ConfigError(str(exc), source=source, path=f"{where}.{key}") from None


_DETECTOR_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def _check_replacement(template: str, source: str, path: str) -> None:
    if "{" in template.replace("{name}", "") or "}" in template.replace("{name}", ""):
        raise ConfigError("the only placeholder is {name}; other braces are not allowed", source=source, path=path)


def _validate_redaction(red: RedactionConfig, source: str, where: str) -> None:
    _check_replacement(red.replacement, source, f"{where}.replacement")
    if len(set(red.builtin)) != len(red.builtin):
        raise ConfigError("lists a detector twice", source=source, path=f"{where}.builtin")
    names: set[str] = set()
    for i, pattern in enumerate(red.patterns):
        at = f"{where}.patterns[{i}]"
        if not _DETECTOR_NAME.fullmatch(pattern.name):
            raise ConfigError("use 1-64 letters, digits and '_'", source=source, path=f"{at}.name")
        if pattern.name in names or pattern.name in BUILTIN_DETECTORS:
            raise ConfigError(f"the name {pattern.name!r} is already taken", source=source, path=f"{at}.name")
        names.add(pattern.name)
        try:
            compiled = re.compile(pattern.regex, re.IGNORECASE if pattern.ignore_case else 0)
        except re.error as exc:
            raise ConfigError(f"not a valid regex: {exc}", source=source, path=f"{at}.regex") from None
        if compiled.search("") is not None:
            raise ConfigError("matches the empty string", source=source, path=f"{at}.regex")
        if pattern.replacement is not None:
            _check_replacement(pattern.replacement, source, f"{at}.replacement")


def _validate_pii(rec: SessionRecordingConfig, source: str, where: str) -> None:
    pii = rec.pii
    if not pii.enabled:
        return
    if rec.redaction.enabled:
        raise ConfigError(
            "enable redaction or pii, not both (they are two forms of one filter)", source=source, path=where
        )
    if not 0.0 <= pii.min_confidence <= 1.0:
        raise ConfigError("must be between 0 and 1", source=source, path=f"{where}.min_confidence")
    if pii.partial_show_chars < 0:
        raise ConfigError("must be >= 0", source=source, path=f"{where}.partial_show_chars")
    tokenize = pii.redaction_mode == "tokenize" or any(p.redaction_mode == "tokenize" for p in pii.custom_patterns)
    if tokenize and not pii.hmac_secret:
        raise ConfigError(
            "tokenize needs hmac_secret (the Rust server masked instead, silently)", source=source, path=where
        )
    for i, pattern in enumerate(pii.custom_patterns):
        at = f"{where}.custom_patterns[{i}]"
        try:
            compiled = re.compile(pattern.pattern)
        except re.error as exc:
            raise ConfigError(f"not a valid regex: {exc}", source=source, path=f"{at}.pattern") from None
        if compiled.search("") is not None:
            raise ConfigError("matches the empty string", source=source, path=f"{at}.pattern")
        if not 0.0 <= pattern.confidence <= 1.0:
            raise ConfigError("must be between 0 and 1", source=source, path=f"{at}.confidence")
