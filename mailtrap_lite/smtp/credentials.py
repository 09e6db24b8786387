"""Who may log in over SMTP AUTH: anyone (the default), or the users of an ``--auth-file``.

The file holds ``user:password`` lines; ``#`` starts a comment line and blank lines are ignored. The
password is everything after the first colon. Passwords stay in this object only: nothing here logs them.
``read_users`` reads such a file for ``--ui-auth`` too.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from mailtrap_lite.errors import ConfigError


@dataclass(frozen=True, slots=True)
class CramMD5:
    """A CRAM-MD5 answer (RFC 2195): the hex HMAC-MD5 of the challenge, keyed with the password."""

    challenge: bytes
    digest: str


Proof = bytes | CramMD5  # a password, or what stands in for one


class Credentials:
    def __init__(self, users: dict[str, bytes] | None = None) -> None:
        """``users=None`` accepts any username with any password."""
        self._users = users

    @property
    def accept_any(self) -> bool:
        return self._users is None

    @classmethod
    def from_file(cls, path: Path) -> Credentials:
        """Read an auth file; raises ConfigError naming the file and line of any problem."""
        return cls(read_users(path, "--auth-file"))

    def verify(self, username: str, proof: Proof) -> bool:
        if self._users is None:
            return True
        known = username in self._users
        password = self._users.get(username, b"")
        if isinstance(proof, CramMD5):
            expected = hmac.new(password, proof.challenge, hashlib.md5).hexdigest()
            return hmac.compare_digest(expected.encode(), proof.digest.lower().encode()) and known
        return hmac.compare_digest(password, proof) and known


def read_users(path: Path, flag: str) -> dict[str, bytes]:
    """The users of a file of ``user:password`` lines; raises ConfigError naming ``flag``, the file and the
    line of any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{flag}: cannot read {path}: {error}") from None
    users: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, colon, password = line.partition(":")
        user = user.strip()
        if not colon or not user or not password:
            raise ConfigError(f"{flag}: {path}:{number}: expected user:password")
        if user in users:
            raise ConfigError(f"{flag}: {path}:{number}: user {user!r} is listed twice")
        users[user] = password.encode()
    if not users:
        raise ConfigError(f"{flag}: {path} has no user:password line")
    return users
