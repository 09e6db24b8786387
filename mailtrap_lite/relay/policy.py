"""Who relayed mail may go to: address checks (no SMTP command injection) and the allow and deny lists."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailtrap_lite.errors import BadRequest, ConfigError

# RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets included.
MAX_ADDRESS = 254
MAX_RECIPIENTS = 100
# A dot-atom local part and a domain of letters, digits, hyphens and dots (non-ASCII allowed, RFC 6531).
# No whitespace, no control character, nothing that ends or splits an SMTP command: CR and LF above all.
_ADDRESS = re.compile(
    r"[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+@(?:[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@.]+\.)*"
    r"[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@.]+"
)


def check_address(text: str, *, allow_null: bool = False) -> str:
    """``text`` as a mailbox fit for MAIL FROM or RCPT TO; ConfigError (a BadRequest in the API) if not."""
    if allow_null and text == "":
        return text
    if len(text) > MAX_ADDRESS or not _ADDRESS.fullmatch(text):
        raise ConfigError(f"not a mail address fit for SMTP: {text!r}")
    return text


@dataclass(frozen=True, slots=True)
class Recipients:
    allowed: tuple[str, ...]
    refused: tuple[str, ...]  # outside the allow list, or on the deny list


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    """The allow and deny lists, as case-insensitive globs; with no allow list every address is allowed."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def permits(self, address: str) -> bool:
        lowered = address.lower()
        if any(fnmatch.fnmatchcase(lowered, glob.lower()) for glob in self.deny):
            return False
        return not self.allow or any(fnmatch.fnmatchcase(lowered, glob.lower()) for glob in self.allow)

    def split(self, addresses: Iterable[str]) -> Recipients:
        allowed: list[str] = []
        refused: list[str] = []
        for address in addresses:
            (allowed if self.permits(address) else refused).append(address)
        return Recipients(tuple(allowed), tuple(refused))


def release_recipients(given: object, default: Sequence[str]) -> tuple[str, ...]:
    """The ``to`` of a release request: a list of addresses (default: the accepted envelope recipients).

    Raises BadRequest for anything that is not a short list of valid, distinct addresses."""
    if given is None:
        given = list(default)
    if not isinstance(given, list) or not all(isinstance(item, str) for item in given):
        raise BadRequest("to must be a list of addresses")
    if not given:
        raise BadRequest("to is empty: name at least one recipient")
    if len(given) > MAX_RECIPIENTS:
        raise BadRequest(f"at most {MAX_RECIPIENTS} recipients per release, got {len(given)}")
    for address in given:
        try:
            check_address(address)
        except ConfigError as error:
            raise BadRequest(str(error)) from None
    return tuple(dict.fromkeys(given))


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()
