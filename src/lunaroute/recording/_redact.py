"""PII redaction of session events: built-in detectors and custom regexes, built once from the config.

`build_redactor(config)` returns a `Redactor` (a `Callable[[SessionEvent], SessionEvent]`) or None when
`session_recording.redaction.enabled` is false. Applied to every event before any store sees it, it replaces
each match in every place where user or model text lands:

| event                | fields redacted                                                                  |
|----------------------|----------------------------------------------------------------------------------|
| `started`            | the values of `request_headers`                                                  |
| `request_recorded`   | `request_text`; every string of `request_json` (messages, system prompt, tool    |
|                      | results, tool definitions)                                                       |
| `response_recorded`  | `response_text`; every string of `response_json` (text, thinking, tool calls)    |
| `tool_call_recorded` | `tool_arguments`                                                                 |
| `completed`          | `error` (upstream error messages can quote the prompt)                           |

Identifiers and metadata are never touched: session/request/tool-call ids, model and provider names, tool
names, `user_agent` and `client_ip` (its own policy is `session_recording.client_ip`), numbers, and JSON object
keys. String values under a key listed in `skip_json_keys` (default: `signature`, `encrypted_content` — opaque
blobs) are kept as they are.

Built-in detectors (the order in which they are tried at one position):

- `api_key`: well-known credential shapes — `sk-…` (OpenAI, Anthropic `sk-ant-…`), `sk_live_…`/`rk_live_…`
  (Stripe), `AKIA…`/`ASIA…` (AWS), `ghp_…`/`github_pat_…` (GitHub), `glpat-…` (GitLab), `xox?-…` (Slack),
  `AIza…` (Google);
- `jwt`: `eyJ….eyJ….…` tokens;
- `email`;
- `iban`: 15-34 characters with a valid ISO 13616 mod-97 checksum, grouped by spaces or not;
- `credit_card`: 13-19 digits, optionally grouped by spaces or dashes, passing the Luhn check;
- `ssn`: US social security numbers written `123-45-6789` (not the impossible 000/666/9xx areas);
- `phone`: `+` and a country code followed by 7-14 more digits in groups, or a North-American
  `(555) 123-4567` / `555-123-4567` / `555.123.4567`; a bare run of digits is not taken for a phone number;
- `ipv6`: anything `ipaddress` accepts as IPv6 with at least two non-empty groups (so not `::` or `::1`);
- `ipv4`: dotted quads with every octet at most 255 (so version strings like `1.2.3.4` are redacted too).

Each built-in detector makes one pass over a string, skipped when a cheap test shows it cannot match (no `@`
for `email`, no `eyJ` for `jwt`, no `:` for `ipv6`, no run of 7+ digits and separators for the number
detectors). A candidate its check rejects (Luhn, mod 97, IPv6 syntax) is dropped. Overlapping matches are
resolved leftmost first, then by the order above. Custom patterns then run in their config order, one pass
each, on the result. A match becomes the replacement template with `{name}` replaced by the detector's name
(default `[REDACTED:email]`). Strings without any match are returned as the same object, and an event without
any match is returned unchanged (no copy).

Strings of 1024+ characters that are entirely base64 (optionally a `data:...;base64,` URL) are binary
payloads such as images and are left alone: they hold no text to find, and a spurious hit would corrupt them.
Clients resend the whole conversation with every request, so the results for strings of 32 characters or
more are kept in a bounded cache (about 16 M characters of input); a string seen before costs one hash.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from lunaroute.config._schema import BuiltinDetector, RedactionConfig
from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    ToolCallRecorded,
)

__all__ = ["BUILTIN_PATTERNS", "Detector", "Redactor", "always", "build_redactor", "fixed"]


def _luhn(m: re.Match[str]) -> bool:
    digits = [int(c) for c in m.group() if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban(m: re.Match[str]) -> bool:
    compact = m.group().replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ipv6(m: re.Match[str]) -> bool:
    text = m.group()
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return sum(1 for group in text.split(":") if group) >= 2


def _phone(m: re.Match[str]) -> bool:
    return 9 <= sum(c.isdigit() for c in m.group()) <= 15


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_NUMBERS = re.compile(r"\d[\d .()/+-]{5,}\d")

Trigger = Callable[[str], bool]


def _has(literal: str) -> Trigger:
    return lambda text: literal in text


def _numbers(text: str) -> bool:
    return _NUMBERS.search(text) is not None


def always(text: str) -> bool:
    return True


def _token_start(m: re.Match[str]) -> bool:
    start = m.start()
    return start == 0 or m.string[start - 1] not in _TOKEN_CHARS


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


Check = Callable[[re.Match[str]], bool]

BUILTIN_PATTERNS: dict[BuiltinDetector, tuple[str, Check | None, Trigger]] = {
    "api_key": (
        # Every alternative starts with a literal so that the scan skips ahead fast; the boundary before the
        # key is checked on the match (a look-behind in front would disable that optimisation).
        r"(?:sk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{20,}|rk_live_[A-Za-z0-9]{20,}"
        r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"
        r"|glpat-[A-Za-z0-9_-]{20,}|xox[abeprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])",
        _token_start,
        always,
    ),
    "jwt": (r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", None, _has("eyJ")),
    "email": (
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])",
        None,
        _has("@"),
    ),
    "iban": (
        r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
        _iban,
        _numbers,
    ),
    "credit_card": (r"(?<![\d.+-])\d(?:[ -]?\d){12,18}(?!\d)", _luhn, _numbers),
    "ssn": (r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])", None, _numbers),
    "phone": (
        r"(?<![\w+])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})(?![\d-])",
        _phone,
        _numbers,
    ),
    "ipv6": (r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])", _ipv6, _has(":")),
    "ipv4": (rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\d|\.\d)", None, _numbers),
}
"""Each built-in detector: its regular expression, an optional check of a match, and a cheap test that a
string may contain a match at all."""

_CACHE_MIN_CHARS = 32
_BLOB_MIN_CHARS = 1024
_BLOB = re.compile(r"(?:data:[\w.+/-]{1,100};base64,)?[A-Za-z0-9+/]+={0,2}")
_CACHE_MAX_CHARS = 16_000_000
_UNCHANGED = "\x00unchanged"


Replace = Callable[[str], str]
"""What a matched text becomes."""


@dataclass(frozen=True, slots=True)
class Detector:
    """One detector of a `Redactor`: where it matches, and what a match becomes."""

    name: str
    regex: re.Pattern[str]
    check: Check | None
    trigger: Trigger
    replace: Replace


def fixed(text: str) -> Replace:
    """A `Replace` that gives `text` for any match."""
    return lambda _: text


def _substitute(regex: re.Pattern[str], replace: Replace, text: str) -> str:
    return regex.sub(lambda m: replace(m.group()), text)


class Redactor:
    """Replaces PII in session events (see the module doc). Build it with `build_redactor`; thread-safe."""

    def __init__(self, builtin: list[Detector], custom: list[Detector], skip_json_keys: frozenset[str]) -> None:
        self._builtin = builtin
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cached_chars = 0
        self._lock = threading.Lock()
        self._custom = [(d.regex, d.replace) for d in custom]
        self._skip = skip_json_keys
        self._fields: dict[type[Any], tuple[Callable[[Any], Any], tuple[str, ...]]] = {
            Started: (self._headers, ("request_headers",)),
            RequestRecorded: (self._any, ("request_text", "request_json")),
            ResponseRecorded: (self._any, ("response_text", "response_json")),
            ToolCallRecorded: (self._any, ("tool_arguments",)),
            Completed: (self._any, ("error",)),
        }

    def __call__(self, event: SessionEvent) -> SessionEvent:
        """`event` with every detected match replaced; the same object when nothing matched."""
        spec = self._fields.get(type(event))
        if spec is None:
            return event
        redact, names = spec
        changes = {}
        for name in names:
            old = getattr(event, name)
            new = redact(old)
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(event, **changes) if changes else event

    def text(self, text: str) -> str:
        """`text` with every match replaced (the same object when nothing matched)."""
        if len(text) < _CACHE_MIN_CHARS:
            return self._redact(text)
        with self._lock:
            done = self._cache.get(text)
            if done is not None:
                self._cache.move_to_end(text)
                return text if done is _UNCHANGED else done
        result = self._redact(text)
        with self._lock:
            self._cache[text] = _UNCHANGED if result is text else result
            self._cached_chars += len(text)
            while self._cached_chars > _CACHE_MAX_CHARS:
                old, _ = self._cache.popitem(last=False)
                self._cached_chars -= len(old)
        return result

    def _redact(self, text: str) -> str:
        if len(text) >= _BLOB_MIN_CHARS and _BLOB.fullmatch(text) is not None:
            return text  # a base64 payload (an image, a PDF): no text to find, and a hit would corrupt it
        if self._builtin:
            text = self._builtin_pass(text)
        for regex, replace in self._custom:
            text = _substitute(regex, replace, text) if regex.search(text) else text
        return text

    def json(self, value: Any) -> Any:
        """A JSON document with every string value redacted, except under `skip_json_keys`; keys kept."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for i, (key, item) in enumerate(value.items()):
                new = item if key in self._skip else self.json(item)
                if new is not item and out is None:
                    out = dict(list(value.items())[:i])
                if out is not None:
                    out[key] = new
            return value if out is None else out
        if isinstance(value, list):
            items = [self.json(item) for item in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        return value

    def _any(self, value: Any) -> Any:
        return None if value is None else self.json(value)

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        redacted = {k: self.text(v) for k, v in headers.items()}
        return headers if all(redacted[k] is v for k, v in headers.items()) else redacted

    def _builtin_pass(self, text: str) -> str:
        hits: list[tuple[int, int, int, Replace]] = []
        for order, detector in enumerate(self._builtin):
            if not detector.trigger(text):
                continue
            for m in detector.regex.finditer(text):
                if detector.check is None or detector.check(m):
                    hits.append((m.start(), order, m.end(), detector.replace))
        if not hits:
            return text
        hits.sort(key=lambda hit: hit[:3])
        parts: list[str] = []
        done = 0
        for start, _, end, replace in hits:
            if start < done:  # overlaps a match already taken (leftmost, then detector order)
                continue
            parts.append(text[done:start])
            parts.append(replace(text[start:end]))
            done = end
        parts.append(text[done:])
        return "".join(parts)


def build_redactor(config: RedactionConfig) -> Redactor | None:
    """The redactor `session_recording.redaction` describes, or None when it is not enabled.

    The loader has validated the section (regexes, names, templates); this compiles every regex once.
    """
    if not config.enabled:
        return None

    def replacement(template: str | None, name: str) -> str:
        return (template if template is not None else config.replacement).replace("{name}", name)

    builtin = [
        Detector(name, re.compile(pattern), check, trigger, fixed(replacement(None, name)))
        for name, (pattern, check, trigger) in BUILTIN_PATTERNS.items()
        if name in config.builtin
    ]
    custom = [
        Detector(
            p.name,
            re.compile(p.regex, re.IGNORECASE if p.ignore_case else 0),
            None,
            always,
            fixed(replacement(p.replacement, p.name)),
        )
        for p in config.patterns
    ]
    return Redactor(builtin, custom, frozenset(config.skip_json_keys))
