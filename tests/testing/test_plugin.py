"""The pytest plugin, run as users run it: inner pytest sessions through pytester."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest

from tests.test_cli import running
from tests.testing.conftest import ROOT, plugin_args

pytestmark = pytest.mark.usefixtures("subprocess_env")

HELPERS = """
import smtplib
from email.message import EmailMessage

def send(box, subject="Welcome", to="ann@example.com", size=0):
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Hi! Verify at https://example.com/verify/abc123\\n" + "x" * size)
    with smtplib.SMTP(box.host, box.port, timeout=30) as client:
        client.send_message(message)
"""


def args(*extra: str) -> list[str]:
    """The plugin (unless installed), and no pytest-asyncio: its start-up deprecation warning would be
    an error inside this suite's ``filterwarnings = error``."""
    return [*plugin_args(), "-p", "no:asyncio", *extra]


def suite(pytester: pytest.Pytester, source: str, *, ini: str = "") -> None:
    pytester.makepyfile(helpers=HELPERS, test_suite=textwrap.dedent(source))
    if ini:
        pytester.makeini("[pytest]\n" + textwrap.dedent(ini))


def test_a_passing_suite(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        import smtplib
        import pytest
        from helpers import send

        def test_catches_real_smtp(mailtrap):
            send(mailtrap)
            msg = mailtrap.wait_for(to="ann@example.com", subject="Welcome")
            assert msg.links() == ["https://example.com/verify/abc123"]

        def test_each_test_starts_empty(mailtrap):
            assert len(mailtrap.messages) == 0
            send(mailtrap, "second")
            assert mailtrap.messages.subjects == ["second"]

        def test_the_session_server(mailtrap_server, mailtrap):
            assert (mailtrap.host, mailtrap.port, mailtrap.url) == (
                mailtrap_server.host, mailtrap_server.port, mailtrap_server.url)
            assert mailtrap_server.url.startswith("http://127.0.0.1:")
            assert not mailtrap_server.remote

        @pytest.mark.mailtrap(max_message_size=2000)
        def test_a_marker_gives_a_server_of_its_own(mailtrap_server, mailtrap):
            assert mailtrap.port != mailtrap_server.port
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                send(mailtrap, size=5000)
            assert refused.value.smtp_code == 552
            mailtrap.assert_nothing_sent()
        """,
    )
    result = pytester.runpytest(*args())
    result.assert_outcomes(passed=4)
    assert "mailtrap messages" not in result.stdout.str()


def test_failures_say_what_was_expected_and_what_came(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        from helpers import send

        def test_waits_for_the_wrong_subject(mailtrap):
            send(mailtrap, "Welcome!")
            mailtrap.wait_for(subject="Welcome", timeout=0.2)

        def test_fails_for_another_reason(mailtrap):
            send(mailtrap, "Your invoice", to="bob@example.com")
            assert 1 + 1 == 3

        def test_passes(mailtrap):
            send(mailtrap, "fine")
        """,
    )
    result = pytester.runpytest(*args())
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_waits_for_the_wrong_subject _*",
            '>*mailtrap.wait_for(subject="Welcome", timeout=0.2)',
            "E*MailtrapAssertionError: timed out after 0.2s waiting for 1 message(s) matching "
            "subject='Welcome' (none arrived)",
            "E*Received during this test (1):",
            "E*'Welcome!'  from app@example.com  to ann@example.com",
            "E*does not match: subject is 'Welcome!', not 'Welcome'",
            "*- mailtrap messages -*",
            "Received during this test (1):",
            "*_ test_fails_for_another_reason _*",
            "*- mailtrap messages -*",
            "Received during this test (1):",
            "*'Your invoice'  from app@example.com  to bob@example.com",
            "Web UI: http://127.0.0.1:*",
        ]
    )
    # The traceback stops at the test's own line, not inside the plugin.
    assert "mailbox.py" not in result.stdout.str()
    assert result.stdout.str().count("mailtrap messages") == 2


def test_ini_options(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        import smtplib
        import pytest
        from helpers import send

        def test_default_timeout(mailtrap):
            mailtrap.wait_for(subject="never")

        def test_server_args(mailtrap):
            with pytest.raises(smtplib.SMTPSenderRefused):
                send(mailtrap, size=3000)
        """,
        ini="""
        mailtrap_timeout = 0.25
        mailtrap_args = --max-message-size 2000 --hostname mx.test
        """,
    )
    result = pytester.runpytest(*args())
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["E*timed out after 0.25s waiting for 1 message(s) matching subject='never'*"]
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "@pytest.mark.mailtrap(max_mesage_size=10)\ndef test_x(mailtrap): pass",
            "*mailtrap: unknown server option(s) max_mesage_size; known: *max_message_size*",
        ),
        (
            "@pytest.mark.mailtrap(max_message_size=10, require_tls=True)\ndef test_x(mailtrap): pass",
            "*mailtrap: --require-tls needs TLS material*",
        ),
        (
            "@pytest.mark.mailtrap(faults=['rcpt:200'])\ndef test_x(mailtrap): pass",
            "*fault code must be 400-599*",
        ),
    ],
)
def test_bad_markers_are_clear_errors(pytester: pytest.Pytester, source: str, error: str) -> None:
    suite(pytester, "import pytest\n" + source)
    result = pytester.runpytest(*args())
    assert result.ret != 0
    result.stdout.fnmatch_lines([error])


def test_bad_server_args_are_clear_errors(pytester: pytest.Pytester) -> None:
    suite(pytester, "def test_x(mailtrap): pass")
    result = pytester.runpytest(*args(), "--mailtrap-args=--max-messages 0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mailtrap: --max-messages: expected a number of at least 1, got 0*"])


def test_unused_plugin_starts_nothing(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        import threading

        def test_nothing_running():
            assert not [t for t in threading.enumerate() if t.name == "mailtrap-lite"]
        """,
    )
    result = pytester.runpytest(*args(), "--fixtures")
    result.stdout.fnmatch_lines(["mailtrap_server*", "mailtrap*"])
    result = pytester.runpytest(*args(), "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mailtrap(faults=[[]...], *server_options): fault rules*"])
    result = pytester.runpytest_subprocess(*args())
    result.assert_outcomes(passed=1)


def test_importing_the_plugin_loads_no_server() -> None:
    code = (
        "import sys, mailtrap_lite.testing.plugin, mailtrap_lite.testing as t\n"
        "heavy = ('uvicorn', 'starlette', 'aiosmtpd', 'asyncio', 'mailtrap_lite.app', 'mailtrap_lite.client',"
        " 'mailtrap_lite.testing.mailbox')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
    # ... and the public names still resolve when asked for.
    code = (
        "import mailtrap_lite, mailtrap_lite.testing as t\n"
        "print(t.Mailbox.__name__, mailtrap_lite.MailServer)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, timeout=60
    )
    assert result.stdout.startswith("Mailbox <class 'mailtrap_lite.app.MailServer'>")


def test_async_tests(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        import asyncio
        from helpers import send

        def test_wait_for_async(mailtrap):
            async def scenario():
                async def later():
                    await asyncio.sleep(0.1)
                    await asyncio.to_thread(send, mailtrap, "from the loop")

                task = asyncio.create_task(later())
                msg = await mailtrap.wait_for_async(subject="from the loop", timeout=20)
                await task
                return msg

            assert asyncio.run(scenario()).subject == "from the loop"
        """,
    )
    result = pytester.runpytest(*args())
    result.assert_outcomes(passed=1)


def test_xdist_workers_have_servers_of_their_own(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        import os
        from pathlib import Path
        from helpers import send

        def test_one(mailtrap, worker_id):
            send(mailtrap, f"one from {worker_id}")
            assert mailtrap.wait_for().subject == f"one from {worker_id}"
            assert len(mailtrap.messages) == 1
            Path(f"port-{worker_id}").write_text(str(mailtrap.port))

        def test_two(mailtrap, worker_id):
            send(mailtrap, f"two from {worker_id}")
            assert mailtrap.messages.subjects == [f"two from {worker_id}"]
        """,
    )
    result = pytester.runpytest_subprocess(*args(), "-n", "2", "--dist", "each", "-p", "xdist")
    result.assert_outcomes(passed=4)
    ports = {path.read_text() for path in pytester.path.glob("port-gw*")}
    assert len(ports) == 2


REMOTE_SUITE = """
import pytest
from helpers import send

def test_remote(mailtrap_server, mailtrap):
    assert mailtrap_server.remote and mailtrap.url == mailtrap_server.url
    send(mailtrap)
    msg = mailtrap.wait_for(subject="Welcome")
    assert msg.text.startswith("Hi! Verify")
    assert any(c.lower().startswith("ehlo") for c in msg.session.commands)

def test_remote_is_emptied_too(mailtrap):
    assert mailtrap.messages.subjects == []

def test_remote_failure(mailtrap):
    send(mailtrap, "Welcome!")
    mailtrap.wait_for(subject="Welcome", timeout=0.2)

@pytest.mark.mailtrap(max_message_size=10)
def test_remote_cannot_be_reconfigured(mailtrap):
    pass
"""


def test_remote_mode_against_a_running_server(pytester: pytest.Pytester) -> None:
    suite(pytester, REMOTE_SUITE)
    with running("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0") as (_, smtp, url):
        result = pytester.runpytest_subprocess(*args(), f"--mailtrap-url={url}", f"--mailtrap-smtp={smtp}")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"mailtrap: using the server at {url}",
            "*@pytest.mark.mailtrap(max_message_size=...) needs a server of its own*--mailtrap-url*",
            "E*timed out after 0.2s waiting for 1 message(s) matching subject='Welcome' (none arrived)",
            "E*'Welcome!'  from app@example.com  to ann@example.com",
            "E*does not match: subject is 'Welcome!', not 'Welcome'",
            f"E*Web UI: {url}",
            "*- mailtrap messages -*",
        ]
    )


PARALLEL_SUITE = """
import smtplib
import pytest
from email.message import EmailMessage

def send(box, subject):
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "ann@example.com"
    message["Subject"] = subject
    for name, value in box.headers.items():
        message[name] = value
    message.set_content("hi")
    with smtplib.SMTP(box.host, box.port, timeout=30) as client:
        client.send_message(message)

@pytest.mark.parametrize("n", range(8))
def test_each_test_has_a_mailbox(mailtrap, n):
    assert mailtrap.name.startswith("pytest-")
    send(mailtrap, f"mail {n}")
    assert mailtrap.wait_for().subject == f"mail {n}"
    rule = mailtrap.fault("rcpt", 550, match=f"bounce{n}@*")
    # Other workers reset their own mailboxes meanwhile: this one keeps its mail, and its rule.
    send(mailtrap, f"again {n}")
    assert mailtrap.wait_for(subject=f"again {n}").mailbox == mailtrap.name
    assert mailtrap.messages.subjects == [f"mail {n}", f"again {n}"]
    assert rule["id"]
"""


def test_remote_mode_with_xdist_gives_each_test_a_mailbox(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=PARALLEL_SUITE)
    with running("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0") as (_, smtp, url):
        result = pytester.runpytest_subprocess(
            *args(), f"--mailtrap-url={url}", f"--mailtrap-smtp={smtp}", "-n", "2", "-p", "xdist"
        )
        faults = httpx.get(f"{url}/api/faults").json()["faults"]
        mailboxes = httpx.get(f"{url}/api/mailboxes").json()["mailboxes"]
    result.assert_outcomes(passed=8)
    assert faults == []  # each test removed its own rule
    assert sorted(m["total"] for m in mailboxes if m["name"].startswith("pytest-")) == [2] * 8


class _OldServer(http.server.BaseHTTPRequestHandler):
    """A server from before mailboxes: every path it does not know is a 404."""

    def do_GET(self) -> None:
        body = b'{"error": "no such path"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_remote_mode_with_xdist_refuses_a_server_without_mailboxes(pytester: pytest.Pytester) -> None:
    suite(pytester, "def test_x(mailtrap):\n    pass\n")
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OldServer) as old:
        thread = threading.Thread(target=old.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{old.server_address[1]}"
            result = pytester.runpytest_subprocess(*args(), f"--mailtrap-url={url}", "-n", "2", "-p", "xdist")
        finally:
            old.shutdown()
            thread.join()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*--mailtrap-url with pytest-xdist: the server at * has no mailboxes*"])


def test_remote_mode_defaults_to_smtp_port_1025_on_the_url_host(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        def test_address(mailtrap_server):
            assert (mailtrap_server.host, mailtrap_server.port) == ("localhost", 1025)
            assert mailtrap_server.url == "http://localhost:8025"
        """,
    )
    result = pytester.runpytest(*args(), "--mailtrap-url=http://user:secret@localhost:8025/")
    result.assert_outcomes(passed=1)


def test_readme_example_runs(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## pytest plugin") :]
    example = re.search(r"```python\n(# test_signup\.py\n.*?)```", section, re.S)
    assert example, "the README's pytest example is missing"
    pytester.makepyfile(test_signup=example.group(1))
    result = pytester.runpytest(*args())
    result.assert_outcomes(
        passed=example.group(1).count("\ndef test_") + example.group(1).count("\nasync def test_")
    )
