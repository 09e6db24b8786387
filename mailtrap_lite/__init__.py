"""mailtrap-lite: a local fake SMTP server that keeps every message and the conversation that carried it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailtrap_lite._lazy import lazy_attributes

if TYPE_CHECKING:
    from mailtrap_lite.app import MailServer
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

_HOMES = {
    "MailServer": "mailtrap_lite.app",
    "Config": "mailtrap_lite.config",
    "ConfigError": "mailtrap_lite.errors",
}
# Every other public name but the version is one of the model's dataclasses.
_HOMES.update((name, "mailtrap_lite.model") for name in __all__ if name not in {*_HOMES, "__version__"})


# Loaded on first use: the server pulls in uvicorn, starlette and aiosmtpd, and importing the pytest
# plugin (a submodule, hence this package) must cost nothing in suites that never use it.
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, __all__)
