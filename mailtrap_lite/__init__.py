"""mailtrap-lite: a local fake SMTP server that keeps every message and the conversation that carried it."""

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
