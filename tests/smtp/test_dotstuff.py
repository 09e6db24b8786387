"""Piecewise dot-unstuffing gives what unstuffing the whole DATA at once gives, wherever pieces split."""

from __future__ import annotations

import itertools
import random

import pytest

from mailtrap_lite.smtp.dotstuff import Unstuffer


def _whole(stuffed: bytes) -> bytes:
    # RFC 5321 §4.5.2 on the whole content: the CRLF ending the DATA command precedes its first line.
    return (b"\r\n" + stuffed).replace(b"\r\n.", b"\r\n")[2:]


def _pieces(stuffed: bytes, cuts: list[int]) -> bytes:
    unstuff = Unstuffer()
    bounds = [0, *sorted(cuts), len(stuffed)]
    return b"".join(unstuff.feed(stuffed[a:b]) for a, b in itertools.pairwise(bounds))


SAMPLES = [
    b".",
    b"..",
    b".\r\n.\r\n..x\r\n",
    b"a\r\n.b\r\n..c\r\n...\r\n",
    b"\r\n.\r\n.\r\n",
    b"x\r\r\n.\n.\r\n",
    b"no dots at all\r\n",
]


@pytest.mark.parametrize("stuffed", SAMPLES)
def test_every_single_split_gives_the_whole_result(stuffed: bytes) -> None:
    expected = _whole(stuffed)
    for cut in range(len(stuffed) + 1):
        assert _pieces(stuffed, [cut]) == expected, cut
    for first in range(len(stuffed) + 1):
        for second in range(first, len(stuffed) + 1):
            assert _pieces(stuffed, [first, second]) == expected, (first, second)


def test_random_content_in_random_pieces() -> None:
    rng = random.Random(5)
    for _ in range(300):
        stuffed = bytes(rng.choice(b"\r\n.x") for _ in range(rng.randrange(0, 60)))
        cuts = [rng.randrange(0, len(stuffed) + 1) for _ in range(rng.randrange(0, 6))]
        assert _pieces(stuffed, cuts) == _whole(stuffed)


def test_nothing_stuffed_returns_the_piece_itself() -> None:
    piece = b"plain\r\nlines\r\n"
    assert Unstuffer().feed(piece) is piece
