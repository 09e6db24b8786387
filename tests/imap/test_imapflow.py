"""An independent client from outside Python: the Node ``imapflow`` library (tests/imap/node), run by Node.

It fetches a message with an attachment, flags it read, deletes another, and waits in IDLE for a message
that arrives over SMTP meanwhile. The npm packages come from ``npm ci`` on the committed lock file.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.imap.helpers import PDF, imap_address, imap_config, plain, send, with_attachment

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture
def server_config() -> Config:
    return imap_config()


@pytest.fixture(scope="module")
def imapflow() -> Path:
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "Node 20 and npm are needed (.ci/run installs them)"
    if not (NODE_DIR / "node_modules" / "imapflow").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=600)
    return Path(node)


def test_imapflow_fetches_flags_deletes_and_hears_a_new_message_in_idle(
    server: MailServer, api: httpx.Client, imapflow: Path
) -> None:
    raw = with_attachment()
    send(server, raw)
    send(server, plain("to delete"))
    host, port = imap_address(server)
    steps: dict[str, dict[str, object]] = {}
    with subprocess.Popen(
        [str(imapflow), "client.mjs", host, str(port), "default"],
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            for line in process.stdout:
                step = json.loads(line)
                steps[step["step"]] = step
                if step["step"] == "idling":
                    send(server, plain("while idling"))
            process.wait(timeout=60)
            stderr = process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr

    fetched = steps["fetched"]
    assert fetched["subject"] == "Your invoice" and fetched["from"] == "shop@example.com"
    assert base64.b64decode(str(fetched["source"])) == raw
    assert fetched["parts"] == ["multipart/alternative", "application/pdf"]
    attachment = steps["attachment"]
    assert attachment["filename"] == "invoice.pdf"
    assert base64.b64decode(str(attachment["content"])) == PDF
    assert steps["deleted"]["exists"] == 1
    arrived = steps["arrived"]
    assert arrived["subject"] == "while idling" and arrived["count"] == 2 and arrived["idled"] is True
    messages = api.get("/api/messages").json()["messages"]
    assert [(m["subject"], m["read"]) for m in messages] == [("while idling", False), ("Your invoice", True)]
