"""The ``mailtrap-lite`` command: flags and environment → Config → MailServer in the foreground; or, when
the first argument names a subcommand (``wait``, ``ls``, ``export``...) or the program runs as
``sendmail``, that subcommand (``mailtrap_lite.commands``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from mailtrap_lite import __version__, commands
from mailtrap_lite.app import MailServer
from mailtrap_lite.config import OPTIONS, Config, build_config
from mailtrap_lite.errors import MailtrapError

EXIT_USAGE = 2
LOOP_SWITCH_INTERVAL = 0.0005  # seconds


def _default_text(name: str, default_text: str) -> str:
    if default_text:
        return default_text
    value = getattr(Config(), name)
    if value is None:
        return "none"
    return "off" if value is False else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailtrap-lite",
        description="A local fake SMTP server: catches every message and the SMTP conversation that "
        "carried it, and shows them in a web UI, a JSON API and a pytest plugin. Nothing is ever delivered.",
        epilog="Every flag can also be set with the environment variable shown; the flag wins. "
        f"Subcommands, for a running server: {', '.join(commands.NAMES)} "
        "(mailtrap-lite COMMAND --help; a symlink named sendmail runs sendmail).",
    )
    parser.add_argument("--version", action="version", version=f"mailtrap-lite {__version__}")
    for option in OPTIONS:
        help_text = (
            f"{option.help} [env {option.env}; default {_default_text(option.name, option.default_text)}]"
        )
        if option.metavar is None:
            parser.add_argument(
                option.flag, dest=option.name, action="store_const", const=True, default=None, help=help_text
            )
        elif option.repeatable:
            parser.add_argument(
                option.flag,
                dest=option.name,
                metavar=option.metavar,
                action="append",
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                option.flag, dest=option.name, metavar=option.metavar, default=None, help=help_text
            )
    return parser


def describe(server: MailServer) -> str:
    assert server.addresses is not None
    addresses = server.addresses
    db = server.config.db
    store = "in memory"
    if isinstance(db, Path):
        store = f"SQLite database {db}"
    elif db:
        url = urlsplit(db)
        user = f"{url.username}@" if url.username else ""  # never the password
        store = f"PostgreSQL {url._replace(netloc=user + url.netloc.rpartition('@')[2]).geturl()}"
    lines = [
        f"mailtrap-lite {server.version}: catching mail, delivering none",
        f"  SMTP   {addresses.smtp}",
    ]
    if addresses.smtps is not None:
        lines.append(f"  SMTPS  {addresses.smtps}")
    if addresses.pop3 is not None:
        lines.append(f"  POP3   {addresses.pop3} (username = mailbox)")
    if addresses.pop3s is not None:
        lines.append(f"  POP3S  {addresses.pop3s}")
    if addresses.imap is not None:
        lines.append(f"  IMAP   {addresses.imap} (username = mailbox)")
    if addresses.imaps is not None:
        lines.append(f"  IMAPS  {addresses.imaps}")
    lines += [
        f"  web UI {addresses.url}/",
        f"  store  {store} (keeps {server.config.max_messages} messages a mailbox)",
    ]
    if server.config.relay is not None:
        auto = server.config.relay_auto
        when = "on release" if auto is None else f"on release and automatically: {auto or 'every message'}"
        lines.append(f"  relay  {server.config.relay}, {when} (SENDS REAL MAIL)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None and os.path.basename(sys.argv[0]) == "sendmail":
        return commands.main(["sendmail", *args])
    if args and args[0] in commands.NAMES:
        return commands.main(args)
    return serve(args)


def serve(argv: Sequence[str]) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        config = build_config(vars(arguments))
    except MailtrapError as error:
        print(f"mailtrap-lite: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # While a thread parses a large message (the memory store's), the event loop must win the GIL back
    # after each of its system calls, waiting up to this interval each time; the default let one turn of
    # the loop last tens of milliseconds while 10 MB messages arrived (benchmarks/README.md). The process
    # is ours here; the pytest plugin's in-process server leaves the test process's setting alone.
    sys.setswitchinterval(LOOP_SWITCH_INTERVAL)
    try:
        server = MailServer(config)
        on_ready = None if config.quiet else lambda _: print(describe(server), flush=True)
        asyncio.run(server.serve(install_signal_handlers=True, on_ready=on_ready))
    except MailtrapError as error:
        print(f"mailtrap-lite: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        pass
    return 0
