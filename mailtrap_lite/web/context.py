"""What every HTTP handler may reach: the service, the running configuration, the fault rules and the
webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from mailtrap_lite.config import Config
from mailtrap_lite.faults import FaultEngine
from mailtrap_lite.service import MailService
from mailtrap_lite.webhooks import WebhookDispatcher


@dataclass(frozen=True, slots=True)
class WebContext:
    service: MailService
    config: Config
    version: str
    faults: FaultEngine = field(default_factory=FaultEngine)
    webhooks: WebhookDispatcher | None = None


def context(connection: HTTPConnection) -> WebContext:
    ctx: WebContext = connection.app.state.mailtrap
    return ctx
