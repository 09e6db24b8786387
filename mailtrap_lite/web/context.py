"""What every HTTP handler may reach: the service, the running configuration, the fault rules, the
webhooks and the relay."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from mailtrap_lite.config import Config
from mailtrap_lite.faults import FaultEngine
from mailtrap_lite.service import MailService
from mailtrap_lite.webhooks import WebhookDispatcher

if TYPE_CHECKING:
    from mailtrap_lite.relay.relayer import Relayer


@dataclass(frozen=True, slots=True)
class WebContext:
    service: MailService
    config: Config
    version: str
    faults: FaultEngine = field(default_factory=FaultEngine)
    webhooks: WebhookDispatcher | None = None
    relay: Relayer | None = None  # None: no --relay, releases are refused


def context(connection: HTTPConnection) -> WebContext:
    ctx: WebContext = connection.app.state.mailtrap
    return ctx
