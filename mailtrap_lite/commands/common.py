"""What every client subcommand shares: the server's address and credentials, exit codes, errors and the
human and ``--json`` output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from mailtrap_lite.client import APIError, MailtrapClient

EXIT_OK = 0
EXIT_FAILED = 1  # what was asked for is not there: a wait timed out, no such message, not ready
EXIT_USAGE = 2  # bad arguments, or a query the server refused
EXIT_SERVER = 3  # the server cannot be reached, refused the credentials, or failed

EXIT_CODES_HELP = """exit codes:
  0  done
  1  not there: wait timed out, no such message, server not ready, some imports failed
  2  bad usage: unknown option, missing argument, invalid query
  3  the server cannot be reached, refused the credentials or failed"""

DEFAULT_URL = "http://127.0.0.1:8025"
URL_ENV = "MAILTRAP_LITE_URL"
USER_ENV = "MAILTRAP_LITE_USER"
# A server's own credentials: a health check run inside its container needs no other setting.
SERVER_AUTH_ENV = "MAILTRAP_LITE_UI_AUTH"


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions filled to the terminal's width; text of several lines (the exit codes) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class CommandError(Exception):
    """A subcommand cannot go on: the message for stderr and the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def server_options() -> argparse.ArgumentParser:
    """The options of every subcommand that talks to the HTTP API (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("server")
    group.add_argument(
        "--url",
        default=None,
        help=f"the running server's web address [env {URL_ENV}; default {DEFAULT_URL}]",
    )
    group.add_argument(
        "--user",
        metavar="USER:PASS",
        default=None,
        help=f"credentials of a server started with --ui-auth [env {USER_ENV}, else {SERVER_AUTH_ENV}]",
    )
    group.add_argument("--json", action="store_true", help="print JSON for scripts instead of text")
    return parent


def add_command(
    commands: Any, name: str, summary: str, description: str | None = None, *, epilog: str = EXIT_CODES_HELP
) -> argparse.ArgumentParser:
    """A subcommand that talks to the HTTP API: the server options, ``summary`` in the list of commands,
    ``description`` (else the summary) atop its help and the exit codes below."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        parents=[server_options()],
        help=summary,
        description=description or summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    return parser


def connect(arguments: argparse.Namespace, *, timeout: float = 30.0) -> MailtrapClient:
    url = arguments.url or os.environ.get(URL_ENV) or DEFAULT_URL
    user = arguments.user or os.environ.get(USER_ENV) or os.environ.get(SERVER_AUTH_ENV)
    if user:
        name, colon, password = user.partition(":")
        if not colon:
            raise CommandError(f"--user must be USER:PASS, got {user!r}", EXIT_USAGE)
        parts = urlsplit(url)
        credentials = f"{quote(name, safe='')}:{quote(password, safe='')}@"
        url = urlunsplit(parts._replace(netloc=credentials + parts.netloc.rpartition("@")[2]))
    try:
        return MailtrapClient(url, timeout=timeout)
    except ValueError as error:
        raise CommandError(str(error), EXIT_USAGE) from None


def command_error(error: APIError, not_found: str | None = None) -> CommandError:
    """The server's answer as an exit code: 400 is bad usage, 404 ``not_found`` (when given), others a
    failure of the server or of reaching it."""
    if error.status == 400:
        return CommandError(error.message, EXIT_USAGE)
    if error.status == 404 and not_found is not None:
        return CommandError(not_found, EXIT_FAILED)
    if error.status == 0:
        return CommandError(error.message, EXIT_SERVER)
    return CommandError(f"the server answered {error.status}: {error.message}", EXIT_SERVER)


@contextmanager
def api_errors(not_found: str | None = None) -> Iterator[None]:
    """Raise ``command_error`` for an APIError inside the block."""
    try:
        yield
    except APIError as error:
        raise command_error(error, not_found) from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value < 10**7:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
    return value


def query_text(words: list[str] | None) -> str | None:
    """Query words as typed on the command line (``to:ann subject:Welcome``) as one query."""
    text = " ".join(words or ()).strip()
    return text or None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def address_text(address: dict[str, Any] | None) -> str:
    if not address:
        return "-"
    name, email = address.get("name") or "", address.get("address") or ""
    return f"{name} <{email}>" if name else email


def summary_line(summary: dict[str, Any]) -> str:
    """One message on one line: id, time, sender, recipients, subject."""
    received = str(summary.get("received_at") or "")[:19].replace("T", " ")
    recipients = ", ".join(address_text(a) for a in summary.get("to") or ()) or "-"
    subject = summary.get("subject") or "(no subject)"
    return f"{summary['id']}  {received}  {address_text(summary.get('from'))} -> {recipients}  {subject}"


def add_query(parser: argparse.ArgumentParser, *, required: bool = False, what: str = "messages") -> None:
    parser.add_argument(
        "query",
        nargs="+" if required else "*",
        metavar="QUERY",
        help=f"search words selecting the {what} (as in the web UI: to:ann subject:Welcome has:attachment)",
    )
