"""Credentials: accept-any by default, an --auth-file checked in constant time, bad files refused."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from mailtrap_lite.errors import ConfigError
from mailtrap_lite.smtp.credentials import CramMD5, Credentials

CHALLENGE = b"<1896.697170952@mailtrap-lite>"


def cram(password: bytes, challenge: bytes = CHALLENGE) -> str:
    return hmac.new(password, challenge, hashlib.md5).hexdigest()


def test_without_a_file_anything_goes() -> None:
    anyone = Credentials()
    assert anyone.accept_any
    assert anyone.verify("whoever", b"whatever")
    assert anyone.verify("whoever", CramMD5(CHALLENGE, "not-even-hex"))


def test_auth_file_users(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# test users\n\nalice:s3cret\n  bob:pa:ss:word\n")
    users = Credentials.from_file(path)
    assert not users.accept_any
    assert users.verify("alice", b"s3cret")
    assert users.verify("bob", b"pa:ss:word")  # everything after the first colon
    assert not users.verify("alice", b"wrong")
    assert not users.verify("mallory", b"")
    assert not users.verify("mallory", b"s3cret")


def test_cram_md5_is_checked_against_the_password(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("alice:tanstaaftanstaaf\n")
    users = Credentials.from_file(path)
    assert users.verify("alice", CramMD5(CHALLENGE, cram(b"tanstaaftanstaaf")))
    assert users.verify("alice", CramMD5(CHALLENGE, cram(b"tanstaaftanstaaf").upper()))
    assert not users.verify("alice", CramMD5(CHALLENGE, cram(b"wrong")))
    assert not users.verify("alice", CramMD5(b"<other@host>", cram(b"tanstaaftanstaaf")))
    assert not users.verify("alice", CramMD5(CHALLENGE, "ünïcode"))
    assert not users.verify("nobody", CramMD5(CHALLENGE, cram(b"")))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("alice\n", ":1: expected user:password"),
        ("# only a comment\n\n", "has no user:password line"),
        ("alice:one\nalice:two\n", ":2: user 'alice' is listed twice"),
        (":nobody\n", ":1: expected user:password"),
        ("alice:\n", ":1: expected user:password"),
    ],
)
def test_bad_auth_files_are_config_errors(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "users"
    path.write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        Credentials.from_file(path)


def test_unreadable_auth_file(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_bytes(b"alice:\xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read"):
        Credentials.from_file(path)
