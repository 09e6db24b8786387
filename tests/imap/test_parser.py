"""The IMAP command parser, without sockets."""

from __future__ import annotations

import pytest

from mailtrap_lite.imap.parser import (
    Atom,
    Command,
    ParenList,
    ParseError,
    SequenceSet,
    literal_announced,
    parse_command,
    sequence_set,
)


def test_tags_names_atoms_strings_and_lists() -> None:
    command = parse_command(b'a1 LOGIN "ann \\"x\\" \\\\" secret\r\n')
    assert command == Command("a1", "LOGIN", (b'ann "x" \\', Atom("secret")))
    listed = parse_command(b"t STATUS INBOX (MESSAGES UIDNEXT)\r\n")
    assert listed.args == (Atom("INBOX"), ParenList((Atom("MESSAGES"), Atom("UIDNEXT"))))


def test_uid_commands_carry_the_inner_name() -> None:
    command = parse_command(b"7 uid fetch 1:* (FLAGS)")
    assert (command.name, command.uid, command.args[0]) == ("FETCH", True, Atom("1:*"))


def test_a_section_with_spaces_and_a_partial_range_is_one_atom() -> None:
    command = parse_command(b"x FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)")
    assert command.args[1] == ParenList((Atom("BODY.PEEK[HEADER.FIELDS (From To)]<0.100>"), Atom("UID")))


def test_literals_are_read_by_their_announced_size() -> None:
    assert literal_announced(b"a LOGIN {3}\r\n") == (3, True)
    assert literal_announced(b"a LOGIN {3+}\r\n") == (3, False)
    assert literal_announced(b"a LOGIN ann pass\r\n") is None
    command = parse_command(b"a LOGIN {5}\r\nx y\r\n {2}\r\n\x00)\r\n")
    assert command.args == (b"x y\r\n", b"\x00)")


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"a",
        b"+tag NOOP",
        b"a (NOOP",
        b'a LOGIN "unterminated',
        b"a FETCH 1 (FLAGS",
        b"a LOGIN {9}\r\nshort",
    ],
)
def test_malformed_commands_are_errors(line: bytes) -> None:
    with pytest.raises(ParseError):
        parse_command(line)


def test_an_error_after_the_tag_keeps_the_tag() -> None:
    with pytest.raises(ParseError) as caught:
        parse_command(b"t9 SELECT (")
    assert caught.value.tag == "t9"


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ParseError, match="nested"):
        parse_command(b"a SEARCH " + b"(" * 40 + b"ALL" + b")" * 40)


def test_sequence_sets() -> None:
    assert sequence_set(Atom("1,3:5,7:*")) == SequenceSet(((1, 1), (3, 5), (7, None)))
    assert sequence_set(Atom("5:2")).bounds(9) == [(2, 5)]
    assert sequence_set(Atom("*:3")).bounds(2) == [(2, 3)]
    assert sequence_set(Atom("4294967295")).highest_named() == 4294967295


@pytest.mark.parametrize("text", ["0", "1:0", "", "1,", ":", "1:2:3", "a", "4294967296", "-1", "1.5"])
def test_malformed_sequence_sets_are_errors(text: str) -> None:
    with pytest.raises(ParseError):
        sequence_set(Atom(text))
