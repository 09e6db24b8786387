from __future__ import annotations

import pytest

from mailtrap_lite.smtp.replies import reply_code, with_enhanced_code


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("250 OK", "250 2.0.0 OK"),
        ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
        ("552 5.3.4 too big", "552 5.3.4 too big"),
        ("354 End data", "354 End data"),
        ("250-SIZE 10", "250-2.0.0 SIZE 10"),
        ("421 4.3.2 bye", "421 4.3.2 bye"),
        ("599 odd", "599 5.0.0 odd"),
        ("221 Bye", "221 2.0.0 Bye"),
    ],
)
def test_enhanced_code_is_added_only_where_missing(reply: str, expected: str) -> None:
    assert with_enhanced_code(reply) == expected


def test_reply_code() -> None:
    assert reply_code("451 4.3.0 later") == 451
    assert reply_code("garbage") == 0
