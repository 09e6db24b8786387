"""The fast path for everyday address headers gives exactly what email.utils.getaddresses gives."""

from __future__ import annotations

import random
from email.utils import getaddresses

import pytest

from mailtrap_lite.message import _plain_pairs

HANDLED = [
    "ann@example.com",
    "  ann@example.com\t",
    "Ann <ann@example.com>",
    "Ann Lee <ann@example.com>",
    "Ann   Lee\t<ann@example.com>",
    "Ann<ann@example.com>",
    "<ann@example.com>",
    " <ann@example.com> ",
    '"Lee, Ann" <ann@example.com>',
    '"Ann  Lee"<ann@example.com>',
    '""  <ann@example.com>',
    "a@b.c, d@e.f",
    "a@b.c,Ann <d@e.f>,  <g@h.i>",
    "A.B+tag@Sub.Example-1.COM",
    "o'neil@example.com",
    "x!#$%&'*+/=?^_`{|}~-y@example.com",
]

FALLS_BACK = [
    "",
    "a@b.c,",
    "a@b.c,,d@e.f",
    "Ann (note) <ann@example.com>",
    "ann@example.com (Ann)",
    '"A\\"B" <ann@example.com>',
    '"Ann" <ann@example.com>, b@c.d',
    "Ann <ann@[127.0.0.1]>",
    "a..b@example.com",
    "a.@example.com",
    "ann@example.com.",
    "=?utf-8?q?Ann?= <ann@example.com>",
    "Ann Lee: a@b.c;",
    "Jürgen <j@example.com>",
    "ann@example.com\r\n bob@example.com",
    "Ann. <ann@example.com>",
]


@pytest.mark.parametrize("value", HANDLED)
def test_everyday_forms_take_the_fast_path_and_match_the_parser(value: str) -> None:
    pairs = _plain_pairs(value)
    assert pairs is not None
    assert pairs == [(name, address.strip()) for name, address in getaddresses([value])]


@pytest.mark.parametrize("value", FALLS_BACK)
def test_other_forms_are_left_to_the_parser(value: str) -> None:
    assert _plain_pairs(value) is None


def _random_value(rng: random.Random) -> str:
    tokens = ["ann", "B", "9", " ", "  ", "\t", ".", "@", "<", ">", '"', ",", "-", "+", "(", ")", "\\", "x.y"]
    value = "".join(rng.choice(tokens) for _ in range(rng.randrange(0, 6)))
    address = rng.choice(["a@b.c", "Ann.Lee@ex-1.org", "a@b", "<a@b.c>", "a@@b", "a@b..c"])
    value += rng.choice(["", " ", "<"]) + address + rng.choice(["", ">", " ", ",", ", c@d.e"])
    return value


def test_random_values_match_the_parser_whenever_the_fast_path_answers() -> None:
    rng = random.Random(11)
    answered = 0
    for _ in range(20_000):
        value = _random_value(rng)
        pairs = _plain_pairs(value)
        if pairs is not None:
            answered += 1
            assert pairs == [(name, address.strip()) for name, address in getaddresses([value])], value
    assert answered > 1000  # the fuzzing reached the fast path often enough to mean something
