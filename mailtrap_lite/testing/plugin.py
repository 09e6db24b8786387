"""The pytest plugin (entry point ``pytest11``): the ``mailtrap_server`` and ``mailtrap`` fixtures.

Loaded into every pytest run where mailtrap-lite is installed, so it does nothing until a fixture is
used: no server, no autouse fixture, and none of the server's imports (the server, its web framework and
SMTP library are imported inside the fixtures).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from mailtrap_lite.testing.mailbox import Mailbox
    from mailtrap_lite.testing.server import MailtrapServer

DEFAULT_REMOTE_SMTP_PORT = 1025
MARKER = (
    "mailtrap(faults=[...], **server_options): fault rules for this test, and server options (any "
    "mailtrap-lite Config field, e.g. max_message_size=1000) that give the test its own server"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailtrap", "mailtrap-lite: catch and assert on the mail your code sends")
    options = (
        (
            "url",
            "URL",
            "use the mailtrap-lite server running at URL (e.g. a container in CI) instead of "
            "one in this process",
        ),
        ("smtp", "HOST:PORT", "that remote server's SMTP address (default: the URL's host, port 1025)"),
        ("timeout", "SECONDS", "default timeout of wait_for (default 10)"),
        (
            "args",
            "ARGS",
            "mailtrap-lite command-line options for the in-process server, e.g. "
            "'--max-message-size 1MiB --hostname mx.test'",
        ),
    )
    for name, metavar, help_text in options:
        group.addoption(f"--mailtrap-{name}", dest=f"mailtrap_{name}", metavar=metavar, help=help_text)
        parser.addini(f"mailtrap_{name}", f"{help_text} (--mailtrap-{name})", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@dataclass(frozen=True, slots=True)
class Settings:
    url: str | None
    smtp: str | None
    timeout: float
    args: str

    @classmethod
    def of(cls, config: pytest.Config) -> Settings:
        def value(name: str) -> str:
            given = config.getoption(f"mailtrap_{name}", None)
            return str(given if given is not None else config.getini(f"mailtrap_{name}")).strip()

        timeout_text = value("timeout") or "10"
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise pytest.UsageError(f"--mailtrap-timeout: expected seconds, got {timeout_text!r}") from None
        return cls(value("url") or None, value("smtp") or None, timeout, value("args"))


def pytest_report_header(config: pytest.Config) -> str | None:
    url = Settings.of(config).url
    return f"mailtrap: using the server at {url}" if url else None


@dataclass(frozen=True, slots=True)
class MarkerOptions:
    server: dict[str, Any] = field(default_factory=dict)
    faults: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, item: pytest.Item) -> MarkerOptions:
        server: dict[str, Any] = {}
        faults: list[dict[str, Any]] = []
        # Closest first: a test's own marker wins over its class's and module's.
        for marker in reversed(list(item.iter_markers("mailtrap"))):
            if marker.args:
                raise pytest.UsageError("@pytest.mark.mailtrap takes keyword arguments only")
            options = dict(marker.kwargs)
            faults.extend(_fault_rule(rule) for rule in options.pop("faults", ()))
            server.update(options)
        return cls(server, tuple(faults))


def _fault_rule(rule: object) -> dict[str, Any]:
    """A marker's fault: ``Mailbox.fault`` arguments as a dict, or ``STAGE:CODE[:MATCH[:TIMES]]``."""
    if isinstance(rule, dict):
        return dict(rule)
    if isinstance(rule, str):
        from mailtrap_lite.config import parse_fault
        from mailtrap_lite.errors import ConfigError

        try:
            spec = parse_fault(rule)
        except ConfigError as error:
            raise pytest.UsageError(f"@pytest.mark.mailtrap(faults=...): {error}") from None
        return {"stage": spec.stage, "code": spec.code, "match": spec.match, "times": spec.times}
    raise pytest.UsageError(f"a mailtrap fault is a dict or 'STAGE:CODE[:MATCH[:TIMES]]', got {rule!r}")


def _remote(settings: Settings, config: pytest.Config) -> MailtrapServer:
    from mailtrap_lite.client import APIError, MailtrapClient
    from mailtrap_lite.testing.server import MailtrapServer

    assert settings.url is not None
    client = MailtrapClient(settings.url)
    # Workers sharing one server each give every test a mailbox of its own, which needs a server that has
    # mailboxes; alone, a test has the whole server, as it always had.
    parallel = int(getattr(config, "workerinput", {}).get("workercount", 1)) > 1
    if parallel:
        try:
            client.mailboxes()
        except APIError as error:
            if error.status != 404:
                raise
            pytest.fail(
                f"--mailtrap-url with pytest-xdist: the server at {client.url} has no mailboxes "
                "(GET /api/mailboxes: 404), so every worker would empty it under the others' feet; "
                "upgrade it, run remote mode without -n, or let each worker start its own server",
                pytrace=False,
            )
    host = urlsplit(client.url).hostname or "127.0.0.1"
    port = DEFAULT_REMOTE_SMTP_PORT
    if settings.smtp:
        host, _, port_text = settings.smtp.rpartition(":")
        port = int(port_text)
    return MailtrapServer(
        host.strip("[]"), port, client.url, client, settings.timeout, mailbox_per_test=parallel
    )


@contextlib.contextmanager
def _local(settings: Settings, changes: dict[str, Any]) -> Iterator[MailtrapServer]:
    from mailtrap_lite.errors import ConfigError
    from mailtrap_lite.testing.server import MailtrapServer
    from mailtrap_lite.testing.thread import LocalBackend, server_config, start_server

    try:
        config = server_config(settings.args, changes)
    except ConfigError as error:
        pytest.fail(f"mailtrap: {error}", pytrace=False)
    mail_server = start_server(config)
    try:
        assert mail_server.addresses is not None
        smtp = mail_server.addresses.smtp
        backend = LocalBackend(mail_server)
        yield MailtrapServer(smtp.host, smtp.port, backend.url, backend, settings.timeout, mail_server)
    finally:
        mail_server.stop()


@pytest.fixture(scope="session")
def mailtrap_server(pytestconfig: pytest.Config) -> Iterator[MailtrapServer]:
    """A mailtrap-lite server for the session (one per xdist worker): ``.host``, ``.port``, ``.url``,
    ``.smtp_url``, ``.django_settings()``. In this process on free ports, or ``--mailtrap-url``'s."""
    settings = Settings.of(pytestconfig)
    if settings.url:
        yield _remote(settings, pytestconfig)
        return
    with _local(settings, {}) as server:
        yield server


@pytest.fixture
def mailtrap(request: pytest.FixtureRequest) -> Iterator[Mailbox]:
    """The session's server, emptied and without fault rules for this test: wait for, find and assert
    on the mail the code under test sends. ``@pytest.mark.mailtrap(...)`` configures it."""
    settings = Settings.of(request.config)
    options = MarkerOptions.of(request.node)
    if not options.server:
        yield from _mailbox(request.getfixturevalue("mailtrap_server"), options, request.node.nodeid)
        return
    if settings.url:
        pytest.fail(
            f"@pytest.mark.mailtrap({', '.join(options.server)}=...) needs a server of its own, but "
            "--mailtrap-url points at a shared one: start that one with these options instead",
            pytrace=False,
        )
    with _local(settings, options.server) as server:
        yield from _mailbox(server, options, request.node.nodeid)


# Per test process: two runs (or workers) that share a server never share a test's mailbox.
_RUN = secrets.token_hex(4)


def _per_test_mailbox(nodeid: str) -> str:
    """The mailbox a test gets on a shared server: this run's token and a digest of the test's id."""
    return f"pytest-{_RUN}-{hashlib.sha256(nodeid.encode()).hexdigest()[:16]}"


def _mailbox(server: MailtrapServer, options: MarkerOptions, nodeid: str) -> Iterator[Mailbox]:
    mailbox = server.mailbox()
    if server.mailbox_per_test:
        mailbox = mailbox.mailbox(_per_test_mailbox(nodeid))
    mailbox.reset()
    try:
        for rule in options.faults:
            mailbox.fault(**rule)
        yield mailbox
    finally:
        mailbox.clear_faults()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    mailbox = getattr(item, "funcargs", {}).get("mailtrap")
    if report.failed and call.when == "call" and mailbox is not None:
        from mailtrap_lite.testing.mailbox import Mailbox

        if isinstance(mailbox, Mailbox):
            try:
                text = mailbox.report()
            except Exception as error:
                text = f"(could not list the captured mail: {error})"
            report.sections.append(("mailtrap messages", text))
    return report
