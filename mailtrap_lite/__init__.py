"""mailtrap-lite: a local fake SMTP server that keeps every message and the conversation that carried it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailtrap_lite.config import Config
from mailtrap_lite.errors import ConfigError
from mailtrap_lite.model import (
    Address,
    Attachment,
    Envelope,
    Message,
    MessageSummary,
    MessageWarning,
    Part,
    Recipient,
    Session,
    TranscriptLine,
)

if TYPE_CHECKING:
    from mailtrap_lite.app import MailServer

__version__ = "0.1.0"

__all__ = [
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


def __getattr__(name: str) -> Any:
    # The server pulls in uvicorn, starlette and aiosmtpd: loaded on first use, so that importing the
    # pytest plugin (a submodule, hence this package) costs nothing in test suites that never use it.
    if name == "MailServer":
        from mailtrap_lite.app import MailServer

        return MailServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
