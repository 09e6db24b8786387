"""What every HTTP handler may reach: the service and the running configuration."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from mailtrap_lite.config import Config
from mailtrap_lite.service import MailService


@dataclass(frozen=True, slots=True)
class WebContext:
    service: MailService
    config: Config
    version: str


def context(connection: HTTPConnection) -> WebContext:
    ctx: WebContext = connection.app.state.mailtrap
    return ctx
