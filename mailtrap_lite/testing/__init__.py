"""Testing with mailtrap-lite: the objects the pytest fixtures hand you, for imports and type hints.

    from mailtrap_lite.testing import Mailbox, Message

    def test_welcome(mailtrap: Mailbox) -> None: ...

Names load on first use, so importing the pytest plugin (this package's ``plugin`` module) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailtrap_lite._lazy import lazy_attributes

if TYPE_CHECKING:
    from mailtrap_lite.client import APIError, MailtrapClient
    from mailtrap_lite.testing.filters import Filters
    from mailtrap_lite.testing.mailbox import Mailbox, MailtrapAssertionError
    from mailtrap_lite.testing.messages import Attachment, Message, Messages, SMTPSession
    from mailtrap_lite.testing.release import Release
    from mailtrap_lite.testing.server import MailtrapServer

__all__ = [
    "APIError",
    "Attachment",
    "Filters",
    "Mailbox",
    "MailtrapAssertionError",
    "MailtrapClient",
    "MailtrapServer",
    "Message",
    "Messages",
    "Release",
    "SMTPSession",
]

_HOMES = {
    "APIError": "mailtrap_lite.client",
    "MailtrapClient": "mailtrap_lite.client",
    "Filters": "mailtrap_lite.testing.filters",
    "Mailbox": "mailtrap_lite.testing.mailbox",
    "MailtrapAssertionError": "mailtrap_lite.testing.mailbox",
    "Attachment": "mailtrap_lite.testing.messages",
    "Message": "mailtrap_lite.testing.messages",
    "Messages": "mailtrap_lite.testing.messages",
    "SMTPSession": "mailtrap_lite.testing.messages",
    "Release": "mailtrap_lite.testing.release",
    "MailtrapServer": "mailtrap_lite.testing.server",
}


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, __all__)
