"""Sealed records (`RecordCipher`): the golden wire format, tampering, keys, and encrypted JSONL files end to end."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import zstandard
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from tests.recording._builders import request_events
from tests.recording.query._seed import now_utc, seed, session_events, standard_specs

from lunaroute.cli._sessions import import_sessions_command, sessions_group
from lunaroute.cli._show import render_effective_config
from lunaroute.config import Config, config_from_mapping
from lunaroute.config._loader import decode_recording_key as decode_key
from lunaroute.errors import ConfigError
from lunaroute.recording._crypto import (
    RecordCipher,
    RecordCorrupt,
    RecordKeyError,
    is_sealed,
    key_id,
    reader_cipher,
    writer_cipher,
)
from lunaroute.recording.codec import decode_event, encode_line
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.jsonl_reader import BadLine, iter_session_file, read_session_file

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
NONCE = bytes.fromhex("000102030405060708090a0b")
PLAIN = b'{"type":"started","session_id":"sess-1"}'
# Computed once with AESGCM directly (not through RecordCipher), so the framing is checked independently.
GOLDEN = b"LR1:VLmNcQABAgMEBQYHCAkKCzwgomK1gOAhrzLj6sOdHQmh+qVHlQgsFVcJuux5SzqQcnXdj4LwMOVpaJlmy/7UETGedyj6c0/V"


def fixed_nonce(nonce: bytes = NONCE) -> Callable[[int], bytes]:
    def draw(n: int) -> bytes:
        assert n == 12
        return nonce

    return draw


def counting_nonces() -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: next(counter).to_bytes(n, "big")


def test_golden_record() -> None:
    cipher = RecordCipher(KEY, random=fixed_nonce())
    assert cipher.key_id.hex() == "54b98d71"
    assert cipher.seal(PLAIN, b"sess-1") == GOLDEN
    assert RecordCipher(KEY).open(GOLDEN, b"sess-1") == PLAIN
    assert RecordCipher(KEY).open(GOLDEN + b"\n", b"sess-1") == PLAIN


def test_layout_of_a_record() -> None:
    frame = base64.b64decode(GOLDEN[4:])
    assert GOLDEN.startswith(b"LR1:")
    assert frame[:4] == key_id(KEY)
    assert frame[4:16] == NONCE
    assert len(frame) == 4 + 12 + len(PLAIN) + 16


def test_nonces_are_fresh_and_random() -> None:
    cipher = RecordCipher(KEY)
    records = {cipher.seal(PLAIN, b"s") for _ in range(200)}
    assert len(records) == 200
    assert len({base64.b64decode(r[4:])[4:16] for r in records}) == 200


@given(st.binary(max_size=2000), st.binary(max_size=300))
def test_round_trip(plaintext: bytes, aad: bytes) -> None:
    cipher = RecordCipher(KEY)
    record = cipher.seal(plaintext, aad)
    assert is_sealed(record)
    assert b"\n" not in record
    assert cipher.open(record, aad) == plaintext


@pytest.mark.parametrize("offset", [0, 3, 4, 10, 15, 16, 20, 40, 55])
def test_any_altered_byte_is_detected(offset: int) -> None:
    frame = bytearray(base64.b64decode(GOLDEN[4:]))
    frame[offset] ^= 0x01
    record = b"LR1:" + base64.b64encode(bytes(frame))
    expected = RecordKeyError if offset < 4 else RecordCorrupt  # the first 4 bytes are the key id
    with pytest.raises(expected):
        RecordCipher(KEY).open(record, b"sess-1")


def test_a_record_moved_to_another_session_does_not_open() -> None:
    with pytest.raises(RecordCorrupt, match="does not authenticate"):
        RecordCipher(KEY).open(GOLDEN, b"sess-2")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (GOLDEN[:-10], "does not authenticate|not valid base64"),
        (GOLDEN[:30], "not valid base64|too short"),
        (b"LR1:" + base64.b64encode(b"x" * 20), "too short"),
        (b"LR1:not base64!!", "not valid base64"),
        (b'{"type": "started"}', "no LR1: prefix"),
    ],
)
def test_malformed_records(record: bytes, reason: str) -> None:
    with pytest.raises(RecordCorrupt, match=reason):
        RecordCipher(KEY).open(record, b"sess-1")


def test_wrong_key_is_a_key_error_naming_both_key_ids() -> None:
    with pytest.raises(RecordKeyError) as info:
        RecordCipher(OTHER_KEY).open(GOLDEN, b"sess-1")
    assert "54b98d71" in str(info.value)
    assert key_id(OTHER_KEY).hex() in str(info.value)
    assert KEY.hex() not in str(info.value)


def test_previous_keys_open_but_never_seal() -> None:
    rotated = RecordCipher(OTHER_KEY, previous_keys=[KEY])
    assert rotated.open(GOLDEN, b"sess-1") == PLAIN
    new = rotated.seal(PLAIN, b"sess-1")
    assert base64.b64decode(new[4:])[:4] == key_id(OTHER_KEY)
    with pytest.raises(RecordKeyError):
        RecordCipher(KEY).open(new, b"sess-1")


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes, not 16"):
        RecordCipher(bytes(16))
    with pytest.raises(ValueError, match="32 bytes, not 31"):
        RecordCipher(KEY, previous_keys=[bytes(31)])


@pytest.mark.parametrize(
    "text",
    [
        KEY.hex(),
        KEY.hex().upper(),
        base64.b64encode(KEY).decode(),
        base64.urlsafe_b64encode(KEY).decode(),
        base64.urlsafe_b64encode(KEY).decode().rstrip("="),
        f"  {KEY.hex()}\n",
    ],
)
def test_decode_key_forms(text: str) -> None:
    assert decode_key(text) == KEY


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "decodes to 0 bytes"),
        (base64.b64encode(bytes(16)).decode(), "decodes to 16 bytes"),
        (KEY.hex()[:-2], "decodes to 31 bytes"),
        ("correct horse battery staple!", "this is neither"),
    ],
)
def test_decode_key_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        decode_key(text)
    assert text.strip() == "" or text not in str(info.value)


# -- encrypted JSONL files ------------------------------------------------------------------------------------


async def write_session(directory: Path, cipher: RecordCipher | None, session_id: str = "sess-E") -> Path:
    writer = JsonlWriter(directory, cipher=cipher)
    await writer.write_batch(request_events(session_id, "r1"))
    await writer.write_batch(request_events(session_id, "r2"))
    await writer.close()
    (path,) = directory.rglob(f"{session_id}.jsonl")
    return path


async def test_encrypted_file_round_trip(tmp_path: Path) -> None:
    cipher = RecordCipher(KEY)
    path = await write_session(tmp_path, cipher)
    raw = path.read_bytes()
    assert b"hello from r1" not in raw
    assert b"sess-E" not in raw
    lines = raw.splitlines(keepends=True)
    assert len(lines) == 14
    assert all(line.startswith(b"LR1:") and line.endswith(b"\n") for line in lines)
    expected = request_events("sess-E", "r1") + request_events("sess-E", "r2")
    assert list(iter_session_file(path, cipher=cipher)) == expected
    assert read_session_file(path, cipher=cipher).events == expected


async def test_golden_encrypted_file(tmp_path: Path) -> None:
    """A fixed key and counting nonces give a byte-exact file: the format cannot drift unnoticed."""
    path = await write_session(tmp_path, RecordCipher(KEY, random=counting_nonces()))
    events = request_events("sess-E", "r1") + request_events("sess-E", "r2")
    sealer = RecordCipher(KEY, random=counting_nonces())
    assert path.read_bytes() == b"".join(sealer.seal(encode_line(ev)[:-1], b"sess-E") + b"\n" for ev in events)
    first = path.read_bytes().split(b"\n", 1)[0]
    assert first[: 4 + 8] == b"LR1:VLmNcQAA"  # key id 54b98d71, then the first nonce (all zero bytes)


async def test_reading_an_encrypted_file_without_a_key_is_a_clear_error(tmp_path: Path) -> None:
    path = await write_session(tmp_path, RecordCipher(KEY))
    with pytest.raises(RecordKeyError, match=r"encrypted.*session_recording\.encryption") as info:
        list(iter_session_file(path))
    assert str(path) in str(info.value)
    with pytest.raises(RecordKeyError, match="54b98d71"):
        read_session_file(path, cipher=RecordCipher(OTHER_KEY))


async def test_torn_last_record_is_skipped(tmp_path: Path) -> None:
    cipher = RecordCipher(KEY)
    path = await write_session(tmp_path, cipher)
    whole = path.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    for cut in (last_start + 1, last_start + 10, len(whole) - 20, len(whole) - 1):
        path.write_bytes(whole[:cut])
        result = read_session_file(path, cipher=cipher)
        assert len(result.events) == 13
        assert result.torn
        assert [b.line_no for b in result.bad_lines] == [14]


async def test_altered_record_in_the_middle_is_reported_and_skipped(tmp_path: Path) -> None:
    cipher = RecordCipher(KEY)
    path = await write_session(tmp_path, cipher)
    lines = path.read_bytes().splitlines(keepends=True)
    frame = bytearray(base64.b64decode(lines[2][4:-1]))
    frame[-1] ^= 0x80
    lines[2] = b"LR1:" + base64.b64encode(bytes(frame)) + b"\n"
    path.write_bytes(b"".join(lines))
    bad: list[BadLine] = []
    events = list(iter_session_file(path, cipher=cipher, on_bad_line=bad.append))
    assert len(events) == 13
    assert [(b.line_no, b.torn) for b in bad] == [(3, False)]
    assert "does not authenticate" in bad[0].reason


async def test_record_copied_from_another_session_file_is_rejected(tmp_path: Path) -> None:
    cipher = RecordCipher(KEY)
    a = await write_session(tmp_path / "a", cipher, "sess-A")
    b = await write_session(tmp_path / "b", cipher, "sess-B")
    with b.open("ab") as f:
        f.write(a.read_bytes().splitlines(keepends=True)[0])
    result = read_session_file(b, cipher=cipher)
    assert len(result.events) == 14
    assert [(bad.line_no, bad.torn) for bad in result.bad_lines] == [(15, False)]


async def test_plain_lines_before_encryption_was_enabled_still_read(tmp_path: Path) -> None:
    await write_session(tmp_path, None)
    writer = JsonlWriter(tmp_path, cipher=RecordCipher(KEY))  # appends sealed records to the plain file
    await writer.write_batch(request_events("sess-E", "r3") + request_events("sess-E", "r4"))
    await writer.close()
    (path,) = tmp_path.rglob("sess-E.jsonl")
    lines = path.read_bytes().splitlines()
    assert [line[:1] for line in lines] == [b"{"] * 14 + [b"L"] * 14
    assert len(read_session_file(path, cipher=RecordCipher(KEY)).events) == 28


async def test_compressed_encrypted_file_reads(tmp_path: Path) -> None:
    cipher = RecordCipher(KEY)
    path = await write_session(tmp_path, cipher)
    zst = path.with_name(path.name + ".zst")
    zst.write_bytes(zstandard.ZstdCompressor().compress(path.read_bytes()))
    path.unlink()
    assert len(read_session_file(zst, cipher=cipher).events) == 14


async def test_writer_without_cipher_is_unchanged(tmp_path: Path) -> None:
    path = await write_session(tmp_path, None)
    events = request_events("sess-E", "r1") + request_events("sess-E", "r2")
    assert path.read_bytes() == b"".join(encode_line(ev) for ev in events)


# -- configuration ----------------------------------------------------------------------------------------------


def encryption_config(section: dict[str, object], env: dict[str, str] | None = None) -> Config:
    return config_from_mapping({"session_recording": {"encryption": section}}, env=env or {})


def test_config_key_from_the_environment() -> None:
    env = {"LUNAROUTE_RECORDING_KEY": base64.b64encode(KEY).decode()}
    enc = encryption_config({"enabled": True, "key": "${LUNAROUTE_RECORDING_KEY}"}, env).session_recording.encryption
    writer = writer_cipher(enc)
    assert writer is not None
    assert writer.key_id == key_id(KEY)
    assert writer.open(GOLDEN, b"sess-1") == PLAIN


def test_config_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "recording.key"
    key_file.write_text(KEY.hex() + "\n")
    enc = encryption_config({"enabled": True, "key_file": str(key_file)}).session_recording.encryption
    cipher = writer_cipher(enc)
    assert cipher is not None
    assert cipher.open(GOLDEN, b"sess-1") == PLAIN


def test_config_previous_keys_read_after_a_rotation() -> None:
    enc = encryption_config(
        {"enabled": True, "key": OTHER_KEY.hex(), "previous_keys": [KEY.hex()]}
    ).session_recording.encryption
    cipher = writer_cipher(enc)
    assert cipher is not None
    assert cipher.key_id == key_id(OTHER_KEY)
    assert cipher.open(GOLDEN, b"sess-1") == PLAIN


def test_config_disabled_writes_plain_but_still_reads_with_its_keys() -> None:
    enc = encryption_config({"enabled": False, "key": KEY.hex()}).session_recording.encryption
    assert writer_cipher(enc) is None
    reader = reader_cipher(enc)
    assert reader is not None
    assert reader.open(GOLDEN, b"sess-1") == PLAIN
    default = config_from_mapping({}, env={}).session_recording.encryption
    assert writer_cipher(default) is None
    assert reader_cipher(default) is None


@pytest.mark.parametrize(
    ("section", "path", "reason"),
    [
        ({"enabled": True}, "$.session_recording.encryption", "set key (or key_file)"),
        ({"key": KEY.hex(), "key_file": "/k"}, "$.session_recording.encryption", "not both"),
        ({"enabled": True, "key": KEY.hex()[:40]}, "$.session_recording.encryption.key", "decodes to 20 bytes"),
        ({"key": "not a key at all!"}, "$.session_recording.encryption.key", "neither"),
        (
            {"key": KEY.hex(), "previous_keys": [KEY.hex(), "QUFB"]},
            "$.session_recording.encryption.previous_keys[1]",
            "3 bytes",
        ),
        ({"enabled": True, "key_file": "/nonexistent/k"}, "$.session_recording.encryption.key_file", "cannot read"),
        ({"enabled": True, "cipher": "aes"}, "$.session_recording.encryption", "unknown field `cipher`"),
    ],
)
def test_config_errors_name_the_key_path(section: dict[str, object], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        encryption_config(section)
    assert info.value.path == path
    assert reason in info.value.reason
    assert KEY.hex()[:40] not in str(info.value)


def test_config_key_file_with_a_bad_key(tmp_path: Path) -> None:
    key_file = tmp_path / "recording.key"
    key_file.write_text(base64.b64encode(bytes(16)).decode())
    with pytest.raises(ConfigError, match="decodes to 16 bytes") as info:
        encryption_config({"enabled": True, "key_file": str(key_file)})
    assert info.value.path == "$.session_recording.encryption.key_file"


def test_config_show_never_prints_keys() -> None:
    old = base64.b64encode(KEY).decode()
    config = encryption_config({"enabled": True, "key": OTHER_KEY.hex(), "previous_keys": [old]})
    shown = render_effective_config(config)
    assert OTHER_KEY.hex()[:8] not in shown
    assert old[:8] not in shown
    assert "key_file: null" in shown


# -- the command line ---------------------------------------------------------------------------------------------


@pytest.fixture
def encrypted_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    specs = standard_specs(now_utc())

    async def build() -> None:
        await seed(home / "sessions.db", None, specs)
        writer = JsonlWriter(home / "sessions", cipher=RecordCipher(KEY))
        await writer.write_batch([ev for spec in specs for ev in session_events(spec)])
        await writer.close()

    asyncio.run(build())
    (home / "config.yaml").write_text(f"session_recording:\n  encryption:\n    key: {KEY.hex()}\n")
    return home


def cli(home: Path, command: click.Command, *args: str) -> Result:
    env = {"LUNAROUTE_HOME": str(home), "LUNAROUTE_CONFIG": ""}
    return CliRunner().invoke(command, list(args), env=env, catch_exceptions=False)


def test_cli_show_and_export_decrypt_with_the_config_key(encrypted_home: Path) -> None:
    raw = b"".join(p.read_bytes() for p in (encrypted_home / "sessions").rglob("*.jsonl"))
    assert b"recursion" not in raw
    shown = cli(encrypted_home, sessions_group, "show", "sess-a")  # $LUNAROUTE_HOME/config.yaml is found
    assert shown.exit_code == 0, shown.stderr
    assert "recursion" in shown.stdout
    exported = cli(encrypted_home, sessions_group, "export", "sess-a", "--format", "jsonl")
    assert exported.exit_code == 0
    lines = exported.stdout_bytes.splitlines()
    assert len(lines) == 21
    assert all(decode_event(line).session_id == "sess-a" for line in lines)


def test_cli_without_the_key_is_a_clear_error(encrypted_home: Path, tmp_path: Path) -> None:
    (encrypted_home / "config.yaml").unlink()
    shown = cli(encrypted_home, sessions_group, "show", "sess-a")
    assert shown.exit_code == 1
    assert "is encrypted: configure session_recording.encryption" in shown.stderr
    other = tmp_path / "other.yaml"
    other.write_text(f"session_recording:\n  encryption:\n    key: {OTHER_KEY.hex()}\n")
    wrong = cli(encrypted_home, sessions_group, "show", "sess-a", "--config", str(other))
    assert wrong.exit_code == 1
    assert "sealed with key id 54b98d71" in wrong.stderr
    exported = cli(encrypted_home, sessions_group, "export", "--format", "jsonl")
    assert exported.exit_code == 1
    assert exported.stdout_bytes == b""


def test_cli_broken_config_exits_2(encrypted_home: Path) -> None:
    (encrypted_home / "config.yaml").write_text("session_recording:\n  encryption:\n    key: short\n")
    shown = cli(encrypted_home, sessions_group, "show", "sess-a")
    assert shown.exit_code == 2
    assert "$.session_recording.encryption.key" in shown.stderr


def test_cli_import_decrypts_and_reports_sessions_it_cannot_open(encrypted_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "imported.db"
    ok = cli(encrypted_home, import_sessions_command, "--db-path", str(target))
    assert ok.exit_code == 0, ok.stderr
    assert "imported 4 (" in ok.stdout
    assert "0 unreadable lines" in ok.stdout
    (encrypted_home / "config.yaml").unlink()
    failed = cli(encrypted_home, import_sessions_command, "--db-path", str(tmp_path / "other.db"))
    assert failed.exit_code == 1
    assert "imported 0 (" in failed.stdout
    assert "is encrypted" in failed.stderr
