"""The README's command-line section says what the CLI does: every subcommand, the exit codes, and a
sendmail_path that the sendmail parser takes as meant."""

from __future__ import annotations

import argparse
import re
import shlex

from mailtrap_lite.commands import NAMES, build_parser, common, sendmail
from tests.cli.conftest import ROOT, run


def section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Command line for scripts and CI")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_subcommand_is_in_the_table_and_in_help() -> None:
    rows = re.findall(r"^\| `(\w+)", section(), re.MULTILINE)
    assert sorted(rows) == sorted(NAMES)
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(subcommands.choices) == sorted(NAMES)  # what cli.py dispatches on is what is registered
    listed = run("ls", "--help").stdout  # a subcommand's help ends with the exit codes
    assert common.EXIT_CODES_HELP in listed
    serving = " ".join(run("--help").stdout.split())
    assert all(name in serving for name in NAMES)


def test_exit_codes_match_the_constants() -> None:
    text = " ".join(section().split())
    for code, words in [
        (common.EXIT_OK, "done"),
        (common.EXIT_FAILED, "not there"),
        (common.EXIT_USAGE, "bad usage"),
        (common.EXIT_SERVER, "the server cannot be reached"),
        (sendmail.EX_USAGE, "bad usage"),
        (sendmail.EX_DATAERR, "no message"),
        (sendmail.EX_NOUSER, "a recipient refused"),
        (sendmail.EX_UNAVAILABLE, "the message refused"),
        (sendmail.EX_TEMPFAIL, "the server unreachable"),
    ]:
        assert f"`{code}` {words}" in text


def test_the_php_sendmail_path_parses_as_meant() -> None:
    line = re.search(r'^sendmail_path = "(.+)"$', section(), re.MULTILINE)
    assert line is not None
    program, command, *args = shlex.split(line.group(1))
    assert program.endswith("mailtrap-lite") and command == "sendmail"
    parsed = sendmail.parse(args)
    assert (parsed.smtp, parsed.from_headers, parsed.ignore_dots) == ("mailtrap:1025", True, True)
