"""One server per fuzz module: Hypothesis runs many examples against it, and a fresh one per example would
measure start-up, not the input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtrap_lite.app import MailServer
from tests.conftest import free_config


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    mail_server = MailServer(free_config())
    mail_server.start()
    try:
        yield mail_server
    finally:
        mail_server.stop()
