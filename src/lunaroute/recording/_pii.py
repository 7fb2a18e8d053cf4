"""The Rust LunaRoute's `session_recording.pii` section, mapped onto the redaction of `_redact`.

Detectors: `detect_email` → email, `detect_phone` → phone, `detect_ssn` → ssn, `detect_credit_card` →
credit_card, `detect_ip_address` → ipv4 and ipv6; each has a confidence (`CONFIDENCE`) and is used only when
it reaches `min_confidence`, as are the custom patterns with their own. What a match becomes follows the Rust
redactor: mask gives `[EMAIL]`, `[PHONE]`, `[SSN]`, `[CREDIT_CARD]`, `[IP_ADDRESS]`; remove gives nothing;
tokenize gives `[EM:…]` / `[PH:…]` / `[SSN:…]` / `[CC:…]` / `[IP:…]` with the first 16 characters of the
base64 HMAC-SHA256 of the match, keyed by HKDF-SHA256 of `hmac_secret` (so the same secret gives the same
tokens as the Rust LunaRoute); partial keeps the last `partial_show_chars` characters and stars the rest.
A custom pattern masks with its `placeholder` (default `[CUS:<name>]`) or tokenizes as `[CUS:<name>:…]`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lunaroute.config._schema import BuiltinDetector, PiiConfig, PiiMode
from lunaroute.recording._redact import BUILTIN_PATTERNS, Detector, Redactor, Replace, always, fixed

__all__ = ["CONFIDENCE", "build_pii_redactor"]

CONFIDENCE: dict[BuiltinDetector, float] = {
    "email": 0.95,
    "credit_card": 0.95,
    "ssn": 0.9,
    "ipv4": 0.9,
    "ipv6": 0.9,
    "phone": 0.8,
}
"""How sure each built-in detector is of a match (checksummed and strictly shaped ones most)."""

_LABEL: dict[BuiltinDetector, tuple[str, str]] = {
    "email": ("EMAIL", "EM"),
    "phone": ("PHONE", "PH"),
    "ssn": ("SSN", "SSN"),
    "credit_card": ("CREDIT_CARD", "CC"),
    "ipv4": ("IP_ADDRESS", "IP"),
    "ipv6": ("IP_ADDRESS", "IP"),
}
_SALT = b"lunaroute-pii-redaction-v1"
_INFO = b"hmac-tokenization-key"


def _hmac_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(secret.encode())


def _tokenizer(key: bytes, prefix: str) -> Replace:
    def token(text: str) -> str:
        digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
        return f"[{prefix}:{base64.b64encode(digest).decode()[:16]}]"

    return token


def _partial(show: int) -> Replace:
    def partial(text: str) -> str:
        if len(text) <= show:
            return "*" * len(text)
        return "*" * (len(text) - show) + text[len(text) - show :]

    return partial


def _builtin_replace(mode: PiiMode, name: BuiltinDetector, config: PiiConfig, key: bytes | None) -> Replace:
    label, short = _LABEL[name]
    match mode:
        case "remove":
            return fixed("")
        case "partial":
            return _partial(config.partial_show_chars)
        case "tokenize" if key is not None:
            return _tokenizer(key, short)
        case _:
            return fixed(f"[{label}]")


def build_pii_redactor(config: PiiConfig) -> Redactor | None:
    """The redactor of an enabled `pii` section, or None. The loader has checked the regexes and the secret."""
    if not config.enabled:
        return None
    key = _hmac_key(config.hmac_secret) if config.hmac_secret else None
    wanted: dict[BuiltinDetector, bool] = {
        "email": config.detect_email,
        "phone": config.detect_phone,
        "ssn": config.detect_ssn,
        "credit_card": config.detect_credit_card,
        "ipv4": config.detect_ip_address,
        "ipv6": config.detect_ip_address,
    }
    builtin = [
        Detector(name, re.compile(pattern), check, trigger, _builtin_replace(config.redaction_mode, name, config, key))
        for name, (pattern, check, trigger) in BUILTIN_PATTERNS.items()
        if wanted.get(name) and CONFIDENCE[name] >= config.min_confidence
    ]
    custom = []
    for p in config.custom_patterns:
        if p.confidence < config.min_confidence:
            continue
        if p.redaction_mode == "tokenize" and key is not None:
            replace = _tokenizer(key, f"CUS:{p.name}")
        else:
            replace = fixed(p.placeholder if p.placeholder is not None else f"[CUS:{p.name}]")
        custom.append(Detector(p.name, re.compile(p.pattern), None, always, replace))
    return Redactor(builtin, custom, frozenset({"signature", "encrypted_content"}))
