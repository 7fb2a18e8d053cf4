"""`RecordCipher`: AES-256-GCM sealing of single records (one JSONL line each), independently decryptable.

Wire format of one sealed record (ASCII, no newline; the writer adds it):

    LR1:<base64( key_id[4] || nonce[12] || ciphertext || tag[16] )>

- `LR1:` is the magic and version. A JSON line always starts with `{`, so a reader tells a sealed record
  from a plain one by its first bytes, line by line (a file may hold both: plain lines written before
  encryption was turned on, sealed ones after).
- `key_id` is the first 4 bytes of SHA-256(`lunaroute-recording-key-id` || key). It is not secret; it lets a
  reader say "this record was sealed with another key" instead of "this record is corrupt", and pick the right
  key among the current one and `previous_keys` after a rotation.
- `nonce` is 12 random bytes from `os.urandom`, fresh for every record (2^32 records per key keeps the
  collision risk of random nonces below 2^-32).
- The associated data authenticated with each record is `LR1:` || key_id || `aad`, where `aad` is chosen by
  the caller; the JSONL store passes the session id, so a record copied into another session's file fails to
  open. Reordering, dropping or duplicating records inside one file is not detected.

Base64 (standard alphabet, padded) keeps a sealed file line-oriented: one `write()` per record still appends
atomically, a torn last record is a line without its newline, and the zstd compression of old files still
works (though it saves little on ciphertext). `seal` never fails; `open` raises `RecordKeyError` when no key
it holds matches the record's key id and `RecordCorrupt` when the record is malformed or does not
authenticate (altered, truncated, or moved from another file). It never returns unauthenticated bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lunaroute.config._loader import RECORDING_KEY_BYTES, recording_keys
from lunaroute.config._schema import RecordingEncryptionConfig

__all__ = [
    "KEY_BYTES",
    "MAGIC",
    "RecordCipher",
    "RecordCorrupt",
    "RecordError",
    "RecordKeyError",
    "is_sealed",
    "key_id",
    "reader_cipher",
    "writer_cipher",
]

MAGIC = b"LR1:"
KEY_BYTES = RECORDING_KEY_BYTES
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER = _KEY_ID_BYTES + _NONCE_BYTES


class RecordError(ValueError):
    """A sealed record that cannot be opened."""


class RecordKeyError(RecordError):
    """No key at hand matches the record's key id (encryption not configured, or a different key)."""


class RecordCorrupt(RecordError):
    """The record is malformed or fails authentication (altered, cut, or moved from another file)."""


def key_id(key: bytes) -> bytes:
    """The public 4-byte identifier of `key` written in every record it seals."""
    return hashlib.sha256(b"lunaroute-recording-key-id" + key).digest()[:_KEY_ID_BYTES]


def is_sealed(record: bytes) -> bool:
    """Whether `record` (one line, with or without its newline) is a sealed record rather than plain JSON."""
    return record.startswith(MAGIC)


class RecordCipher:
    """Seals records with `key`; opens records sealed with `key` or any of `previous_keys`.

    Thread-safe (no mutable state). `random` draws the nonces; only tests pass anything but `os.urandom`.
    """

    def __init__(
        self, key: bytes, *, previous_keys: Sequence[bytes] = (), random: Callable[[int], bytes] = os.urandom
    ) -> None:
        keys = [key, *previous_keys]
        for k in keys:
            if len(k) != KEY_BYTES:
                raise ValueError(f"a recording key is {KEY_BYTES} bytes, not {len(k)}")
        self.key_id = key_id(key)
        self._aead = AESGCM(key)
        self._openers: dict[bytes, AESGCM] = {}
        for k in reversed(keys):  # the current key wins a (2^-32) key-id collision
            self._openers[key_id(k)] = AESGCM(k)
        self._random = random

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """`plaintext` as one sealed record (see the module doc), bound to `aad`. No newline is added."""
        nonce = self._random(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, MAGIC + self.key_id + aad)
        return MAGIC + base64.b64encode(self.key_id + nonce + sealed)

    def open(self, record: bytes, aad: bytes) -> bytes:
        """The plaintext of a sealed `record` (trailing whitespace ignored) bound to `aad`.

        Raises `RecordKeyError` or `RecordCorrupt`; never returns bytes that did not authenticate.
        """
        if not record.startswith(MAGIC):
            raise RecordCorrupt("not a sealed record (no LR1: prefix)")
        try:
            frame = base64.b64decode(record[len(MAGIC) :].rstrip(), validate=True)
        except (binascii.Error, ValueError):
            raise RecordCorrupt("sealed record is not valid base64") from None
        if len(frame) < _HEADER + _TAG_BYTES:
            raise RecordCorrupt(f"sealed record too short ({len(frame)} bytes)")
        kid = frame[:_KEY_ID_BYTES]
        aead = self._openers.get(kid)
        if aead is None:
            raise RecordKeyError(
                f"record sealed with key id {kid.hex()}, but the configured keys are "
                f"{', '.join(k.hex() for k in self._openers)}"
            )
        try:
            return aead.decrypt(frame[_KEY_ID_BYTES:_HEADER], frame[_HEADER:], MAGIC + kid + aad)
        except InvalidTag:
            raise RecordCorrupt("sealed record does not authenticate (altered, or from another file)") from None


def writer_cipher(config: RecordingEncryptionConfig) -> RecordCipher | None:
    """The cipher a store seals new records with: None unless `session_recording.encryption.enabled`."""
    return reader_cipher(config) if config.enabled else None


def reader_cipher(config: RecordingEncryptionConfig) -> RecordCipher | None:
    """The cipher readers open records with: every configured key (also when `enabled` is false, so files
    sealed before encryption was turned off stay readable); None when no key is configured."""
    keys = recording_keys(config)
    if not keys:
        return None
    return RecordCipher(keys[0], previous_keys=keys[1:])
