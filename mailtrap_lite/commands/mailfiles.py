"""Mail files: mboxrd and zip archives of ``.eml`` files, written and read one message at a time.

mboxrd (not mboxo) quotes every body line that matches ``>*From `` with one more ``>`` and unquotes it on
reading, so a message's bytes come back exactly. The ``From `` line carries the envelope sender
(``MAILER-DAEMON`` for the null sender) and the time it was received. In a zip each message is one
``.eml`` member whose comment holds its envelope as JSON (``{"mail_from": ..., "rcpt": [...]}``).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

FORMATS = ("mbox", "zip")
_SUFFIXES = {".mbox": "mbox", ".mbx": "mbox", ".zip": "zip", ".eml": "eml"}
NULL_SENDER = "MAILER-DAEMON"
MAX_COMMENT = 0xFFFF  # a zip entry's comment length is a 16-bit field

_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)
_UNQUOTE = re.compile(rb"^>(>*From )", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class MailFile:
    """One message of a mail file with the envelope the file kept (None: the file did not say)."""

    raw: bytes
    name: str
    mail_from: str | None = None
    recipients: list[str] = field(default_factory=list)


def format_of(path: Path) -> str | None:
    """``mbox``, ``zip`` or ``eml`` by the file name's extension; None when it does not say."""
    return _SUFFIXES.get(path.suffix.lower())


def from_line(mail_from: str, received: datetime) -> bytes:
    sender = mail_from if mail_from and " " not in mail_from else NULL_SENDER
    return f"From {sender} {received.astimezone(UTC).strftime('%a %b %d %H:%M:%S %Y')}\n".encode()


def mbox_entry(raw: bytes, mail_from: str, received: datetime) -> bytes:
    """One message as it is appended to an mbox: From line, quoted bytes, one empty line."""
    body = _QUOTE.sub(rb">\1", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    return from_line(mail_from, received) + body + b"\n"


def read_mbox(stream: BinaryIO, name: str) -> Iterator[MailFile]:
    """The messages of an mbox, one at a time; an ``>From`` line is unquoted (mboxrd)."""
    lines: list[bytes] = []
    sender: str | None = None
    number = 0
    previous_blank = True
    for line in stream:
        if line.startswith(b"From ") and previous_blank:
            if sender is not None:
                number += 1
                yield _mbox_message(lines, sender, f"{name}#{number}")
            sender = line[5:].split(b" ", 1)[0].strip().decode("utf-8", "replace")
            lines = []
        elif sender is not None:
            lines.append(line)
        elif line.strip():
            raise ValueError(f"{name} is not an mbox: it does not begin with a 'From ' line")
        previous_blank = line in (b"\n", b"\r\n")
    if sender is not None:
        yield _mbox_message(lines, sender, f"{name}#{number + 1}")


def _mbox_message(lines: list[bytes], sender: str, name: str) -> MailFile:
    if lines and lines[-1] == b"\n":  # the empty line that separates messages
        lines.pop()
    raw = _UNQUOTE.sub(rb"\1", b"".join(lines))
    # Thunderbird writes "From - <date>": no sender, so the headers name it.
    mail_from = None if sender in ("", "-") else "" if sender == NULL_SENDER else sender
    return MailFile(raw, name, mail_from)


def zip_entry(
    number: int, message_id: str, received: datetime, envelope: dict[str, object]
) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{number:06d}-{message_id}.eml", received.astimezone(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    comment = json.dumps(envelope, ensure_ascii=False).encode()
    if len(comment) > MAX_COMMENT:  # thousands of recipients: keep the sender, the headers name the rest
        comment = json.dumps({"mail_from": envelope.get("mail_from")}, ensure_ascii=False).encode()
    info.comment = comment
    return info


def read_zip(path: Path) -> Iterator[MailFile]:
    """The ``.eml`` members of a zip in archive order, with the envelope their comments hold."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".eml"):
                continue
            mail_from, recipients = _envelope(info.comment)
            yield MailFile(archive.read(info), f"{path.name}:{info.filename}", mail_from, recipients)


def _envelope(comment: bytes) -> tuple[str | None, list[str]]:
    try:
        data = json.loads(comment) if comment else {}
    except ValueError:
        return None, []
    if not isinstance(data, dict):
        return None, []
    mail_from = data.get("mail_from")
    recipients = data.get("rcpt")
    return (
        mail_from if isinstance(mail_from, str) else None,
        [r for r in recipients if isinstance(r, str)] if isinstance(recipients, list) else [],
    )


def read_any(path: Path, kind: str | None) -> Iterator[MailFile]:
    """Every message of a file: an ``.eml``, an mbox or a zip (by ``kind``, else by extension, else by its
    first bytes)."""
    kind = kind or format_of(path)
    if kind is None:
        with path.open("rb") as stream:
            start = stream.read(5)
        kind = "zip" if start.startswith(b"PK\x03\x04") else "mbox" if start == b"From " else "eml"
    if kind == "zip":
        yield from read_zip(path)
    elif kind == "mbox":
        with path.open("rb") as stream:
            yield from read_mbox(stream, path.name)
    else:
        yield MailFile(path.read_bytes(), path.name)
