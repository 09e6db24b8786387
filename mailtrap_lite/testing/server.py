"""``MailtrapServer``: where a server listens and how to talk to it — what ``mailtrap_server`` yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailtrap_lite.app import MailServer
    from mailtrap_lite.testing.backend import Backend
    from mailtrap_lite.testing.mailbox import Mailbox

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class MailtrapServer:
    """A running mailtrap-lite: in this process (``mail_server`` set) or remote (``--mailtrap-url``)."""

    host: str
    port: int
    url: str
    backend: Backend = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    mail_server: MailServer | None = field(default=None, repr=False)
    # Remote under pytest-xdist: each test's ``mailtrap`` is a mailbox of its own (see the plugin).
    mailbox_per_test: bool = False

    @property
    def remote(self) -> bool:
        return self.mail_server is None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` for ``smtplib.SMTP(*address)``."""
        return self.host, self.port

    @property
    def smtp_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp://{host}:{self.port}"

    def django_settings(self) -> dict[str, Any]:
        """Django settings that send real SMTP here (also replacing the test runner's locmem backend)."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
        }

    def env(self, prefix: str = "SMTP_") -> dict[str, str]:
        """``{prefix}HOST``, ``{prefix}PORT`` and ``{prefix}URL``, e.g. for a subprocess's environment."""
        return {f"{prefix}HOST": self.host, f"{prefix}PORT": str(self.port), f"{prefix}URL": self.smtp_url}

    def mailbox(self) -> Mailbox:
        """A Mailbox over this server, as it is (the ``mailtrap`` fixture's one is emptied per test)."""
        from mailtrap_lite.testing.mailbox import Mailbox

        return Mailbox(self)
