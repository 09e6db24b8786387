"""fetchmail (Debian's, written in C by nobody here) retrieving from the server on loopback into an MDA."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.e2e.helpers import send
from tests.pop3.conftest import with_attachment

pytestmark = pytest.mark.skipif(
    shutil.which("fetchmail") is None, reason="fetchmail is not installed (apt-get install fetchmail)"
)


def fetchmail(
    tmp_path: Path, host: str, port: int, *, security: str
) -> tuple[subprocess.CompletedProcess[str], bytes]:
    """Poll once as mailbox ``default``; returns the run and what the MDA was handed."""
    delivered = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"poll {host} service {port} protocol POP3 auth password\n"
        f'  user "default" password "any" is root here options {security} no rewrite\n'
        f"  mda \"/bin/sh -c 'cat >> {delivered}'\"\n"
    )
    rc.chmod(0o600)  # fetchmail refuses a run control file others can read
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    run = subprocess.run(
        ["fetchmail", "-f", str(rc), "--nosyslog", "--nodetach", "--invisible", "-v"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return run, delivered.read_bytes() if delivered.exists() else b""


@pytest.mark.parametrize("security", ["plain", "stls"])
def test_fetchmail_delivers_the_bytes_and_deletes_the_message(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client, tmp_path: Path, security: str
) -> None:
    assert server.addresses is not None and server.addresses.pop3 is not None
    assert server.tls_certificate is not None
    send(smtp_address, with_attachment(size=100_000).as_bytes())
    stored = api.get("/api/messages/latest/raw").content
    if security == "plain":
        options = 'sslproto ""'  # fetchmail would otherwise try STLS, which this server offers
    else:
        certificate = tmp_path / "server.pem"
        certificate.write_bytes(server.tls_certificate)
        options = f'sslproto "TLS1.2+" sslcertck sslcertfile "{certificate}"'
    run, delivered = fetchmail(tmp_path, "localhost", server.addresses.pop3.port, security=options)
    assert run.returncode == 0, run.stdout + run.stderr
    # fetchmail hands an MDA the message with LF line endings (its "stripcr" default for MDAs).
    assert delivered == stored.replace(b"\r\n", b"\n")
    assert api.get("/api/messages").json()["total"] == 0
    if security == "stls":
        assert "POP3> STLS" in run.stdout
