"""``sendmail``: a drop-in for ``/usr/sbin/sendmail`` that hands the message to mailtrap-lite over SMTP.

Run as ``mailtrap-lite sendmail ...`` or through a symlink named ``sendmail``. It takes what PHP's
``mail()``, cron and ``git send-email`` pass: recipients as arguments, ``-t`` (recipients from To, Cc and
Bcc; Bcc is removed), ``-f``/``-r`` (envelope sender), ``-i``/``-oi`` (a lone ``.`` line does not end the
message), ``-F`` (full name, unused) and other ``-o``/``-b``/``-B``/``-v`` options of sendmail, ignored.
The message comes on standard input. Exit codes are sendmail's (sysexits.h).
"""

from __future__ import annotations

import getpass
import os
import re
import smtplib
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any

from mailtrap_lite.config import parse_host_port
from mailtrap_lite.errors import ConfigError
from mailtrap_lite.raw_headers import header_values

# sysexits.h, which sendmail's callers read
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75

SMTP_ENV = "MAILTRAP_LITE_SMTP"
DEFAULT_SMTP = "127.0.0.1:1025"
TIMEOUT = 60.0
USAGE = (
    "usage: sendmail [--smtp HOST:PORT] [-t] [-i] [-f SENDER] [RECIPIENT...] < message\n"
    f"  --smtp   mailtrap-lite's SMTP listener [env {SMTP_ENV}; default {DEFAULT_SMTP}]\n"
    "  -t       also send to the To, Cc and Bcc headers' addresses (Bcc is removed)\n"
    "  -i, -oi  a line with a single '.' does not end the message\n"
    "  -f, -r   envelope sender (default: the From header, else USER@HOST)\n"
    "exit codes (sysexits): 0 sent, 64 bad usage, 65 bad message, 67 a recipient refused,\n"
    "  69 the server refused the message, 75 the server cannot be reached or answered 4xx"
)
# Options of sendmail that take their value in the next argument when it is not attached.
_WITH_VALUE = frozenset("fFrRNVLhBXCOpqe")


class UsageError(Exception):
    pass


@dataclass
class Invocation:
    smtp: str = ""
    from_headers: bool = False
    ignore_dots: bool = False
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)
    help: bool = False


def parse(argv: Sequence[str]) -> Invocation:
    found = Invocation(smtp=os.environ.get(SMTP_ENV) or DEFAULT_SMTP)
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            found.recipients += args
            break
        if arg in ("-h", "--help"):
            found.help = True
        elif arg == "--smtp" or arg.startswith("--smtp="):
            found.smtp = arg.partition("=")[2] if "=" in arg else _value(args, "--smtp")
        elif arg.startswith("--"):
            raise UsageError(f"unknown option {arg}")
        elif arg.startswith("-") and len(arg) > 1:
            letter, rest = arg[1], arg[2:]
            if set(arg[1:]) <= {"t", "i"}:  # -t, -i, -ti
                found.from_headers = found.from_headers or "t" in arg
                found.ignore_dots = found.ignore_dots or "i" in arg
            elif arg == "-oi":
                found.ignore_dots = True
            elif letter in "fr":
                found.sender = rest or _value(args, f"-{letter}")
            elif letter == "b" and rest not in ("m", ""):
                raise UsageError(f"{arg} is not supported: only -bm (deliver a message) is")
            elif letter in _WITH_VALUE and not rest:
                _value(args, arg)
            elif letter not in "obBvFNVLhXCOpqeURGAdnmR":
                raise UsageError(f"unknown option {arg}")
        else:
            found.recipients.append(arg)
    return found


def _value(args: list[str], option: str) -> str:
    if not args:
        raise UsageError(f"{option} needs a value")
    return args.pop(0)


def read_message(stream: bytes, ignore_dots: bool) -> bytes:
    """The message on standard input; without -i it ends at a line holding a single '.'."""
    if ignore_dots:
        return stream
    lines = stream.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.rstrip(b"\r\n") == b".":
            return b"".join(lines[:number])
    return stream


def header_addresses(raw: bytes, *names: str) -> list[str]:
    values = [value for name in names for value in header_values(raw, name)]
    return [address for _, address in getaddresses(values) if address]


def without_bcc(raw: bytes) -> bytes:
    """The message without its Bcc header (and that header's continuation lines)."""
    head, separator, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(b"bcc:")
        if not dropping:
            kept.append(line)
    return b"".join(kept) + separator + body


def main(argv: Sequence[str]) -> int:
    try:
        invocation = parse(argv)
        if invocation.help:
            print(USAGE)
            return EX_OK
        target = parse_host_port(invocation.smtp)
    except (UsageError, ConfigError) as error:
        print(f"sendmail: {error}\n{USAGE}", file=sys.stderr)
        return EX_USAGE
    raw = read_message(sys.stdin.buffer.read(), invocation.ignore_dots)
    if not raw.strip():
        print("sendmail: no message on standard input", file=sys.stderr)
        return EX_DATAERR
    recipients = list(invocation.recipients)
    if invocation.from_headers:
        recipients += header_addresses(raw, "To", "Cc", "Bcc")
        raw = without_bcc(raw)
    recipients = list(dict.fromkeys(recipients))
    if not recipients:
        print(f"sendmail: no recipients: name them, or use -t\n{USAGE}", file=sys.stderr)
        return EX_USAGE
    sender = invocation.sender
    if sender is None:
        senders = header_addresses(raw, "From")
        sender = senders[0] if senders else f"{getpass.getuser()}@{socket.gethostname()}"
    return send(target.host, target.port, sender, recipients, raw)


_LINE_END = re.compile(rb"\r?\n")


def send(host: str, port: int, sender: str, recipients: list[str], raw: bytes) -> int:
    # RFC 5321 §2.3.8: lines end with CRLF on the wire, as sendmail sends them whatever it read.
    raw = _LINE_END.sub(b"\r\n", raw)
    options = []
    if any(byte > 0x7F for byte in raw):
        options.append("BODY=8BITMIME")
    if not (sender + "".join(recipients)).isascii():
        options.append("SMTPUTF8")
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as client:
            refused = client.sendmail(sender, recipients, raw, mail_options=options)
    except smtplib.SMTPRecipientsRefused as error:
        return _refused(error.recipients)
    except smtplib.SMTPResponseException as error:
        print(f"sendmail: the server answered {error.smtp_code} {_text(error.smtp_error)}", file=sys.stderr)
        return EX_TEMPFAIL if 400 <= error.smtp_code < 500 else EX_UNAVAILABLE
    except (OSError, smtplib.SMTPException) as error:
        print(f"sendmail: cannot send through {host}:{port}: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    return _refused(refused) if refused else EX_OK


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _refused(refused: Mapping[str, tuple[int, bytes | str]]) -> int:
    for address, (code, text) in refused.items():
        print(f"sendmail: {address}: {code} {_text(text)}", file=sys.stderr)
    return EX_NOUSER


def entry() -> int:
    """The ``mailtrap-lite-sendmail`` console script."""
    return main(sys.argv[1:])


def register(commands: Any) -> None:
    """Listed with the other subcommands; its own arguments are sendmail's, parsed by ``parse``."""
    commands.add_parser(
        "sendmail", help="a drop-in for /usr/sbin/sendmail: send standard input over SMTP", add_help=False
    )
