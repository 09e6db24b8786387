"""The public surface is deliberate: a change to it must change this test too."""

from __future__ import annotations

import mailtrap_lite


def test_all_is_pinned() -> None:
    assert sorted(mailtrap_lite.__all__) == [
        "Address",
        "Attachment",
        "Config",
        "ConfigError",
        "Envelope",
        "MailServer",
        "Message",
        "MessageSummary",
        "MessageWarning",
        "Part",
        "Recipient",
        "Session",
        "TranscriptLine",
        "__version__",
    ]


def test_every_public_name_exists() -> None:
    for name in mailtrap_lite.__all__:
        assert getattr(mailtrap_lite, name) is not None, name
