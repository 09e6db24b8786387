"""Fixtures shared by the test suite: a real MailServer on free ports, and its addresses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort
from tests.e2e import browser as chromium

pytest_plugins = ["tests.pg.cluster"]

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def free_config(**changes: object) -> Config:
    return Config(smtp=HostPort("127.0.0.1", 0), http=HostPort("127.0.0.1", 0), quiet=True).replace(**changes)


@pytest.fixture
def server_config() -> Config:
    """Override in a test module (or parametrize) to start the server differently."""
    return free_config()


@pytest.fixture
def server(server_config: Config) -> Iterator[MailServer]:
    mail_server = MailServer(server_config)
    mail_server.start()
    try:
        yield mail_server
    finally:
        mail_server.stop()


@pytest.fixture
def smtp_address(server: MailServer) -> tuple[str, int]:
    assert server.addresses is not None
    return server.addresses.smtp.host, server.addresses.smtp.port


@pytest.fixture
def api(server: MailServer) -> Iterator[httpx.Client]:
    assert server.addresses is not None
    with httpx.Client(base_url=server.addresses.url, timeout=30) as client:
        yield client


def _uses_chromium(item: pytest.Item) -> bool:
    if "browser" in getattr(item, "fixturenames", ()):
        return True
    module = getattr(item, "module", None)
    return module is not None and any(
        value is chromium.CHROMIUM or value is chromium.launch_chromium for value in vars(module).values()
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every Chromium test is slow: those using the browser fixture or tests/e2e/browser.py get the marker."""
    for item in items:
        if _uses_chromium(item):
            item.add_marker(pytest.mark.slow)
