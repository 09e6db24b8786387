"""The ``mailtrap-lite`` subcommands that talk to a running server (``wait``, ``ls``, ``show``, ``links``,
``clear``, ``export``, ``import``, ``status``, ``readyz``) and ``sendmail``, one module per concern.

Each module's ``register`` adds its subcommands to the parser, each with a ``run`` function that answers an
exit code (``common.EXIT_*``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from mailtrap_lite.commands import common, health, messages, sendmail, transfer

NAMES = ("wait", "ls", "show", "links", "clear", "export", "import", "sendmail", "status", "readyz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailtrap-lite",
        description="Talk to a running mailtrap-lite server. Without a subcommand, mailtrap-lite serves.",
        epilog=common.EXIT_CODES_HELP,
        formatter_class=common.HelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (messages, transfer, sendmail, health):
        module.register(commands)
    return parser


def main(argv: Sequence[str]) -> int:
    """Run the subcommand ``argv[0]`` (one of ``NAMES``) with its arguments."""
    if argv and argv[0] == "sendmail":
        return sendmail.main(argv[1:])
    arguments = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = arguments.run
    try:
        return run(arguments)
    except common.CommandError as error:
        print(f"mailtrap-lite {argv[0]}: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return common.EXIT_FAILED
    except BrokenPipeError:  # `mailtrap-lite ls | head -1`: the reader has what it wanted
        # Python flushes stdout again at exit, which would fail once more: point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return common.EXIT_OK
