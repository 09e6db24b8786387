"""Fault rules with real clients: every stage and action, rules from --fault and from the API."""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import ssl
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, FaultSpec, parse_fault
from mailtrap_lite.faults import STAGES
from tests.conftest import free_config
from tests.e2e.helpers import needs_swaks, session_of, simple_message, swaks
from tests.e2e.test_bad_input import raw_session
from tests.test_cli import running, stop

RAW = simple_message().as_bytes()


@pytest.fixture
def server_config() -> Config:
    # As `--fault rcpt:550:bounce@*` would give.
    return free_config(fault=(FaultSpec("rcpt", 550, "bounce@*", None),))


def add_fault(api: httpx.Client, **rule: Any) -> dict[str, Any]:
    response = api.post("/api/faults", json=rule)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def faulted_lines(session: dict[str, Any], rule_id: str) -> list[str]:
    return [line["line"] for line in session["transcript"] if line["fault_id"] == rule_id]


def test_rcpt_fault_from_the_command_line_rejects_only_matching_recipients(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    [rule] = api.get("/api/faults").json()["faults"]
    assert (rule["stage"], rule["code"], rule["match"], rule["remaining"]) == ("rcpt", 550, "bounce@*", None)
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        refused = client.sendmail("app@example.com", ["ann@example.com", "Bounce@Example.com"], RAW)
    assert refused == {"Bounce@Example.com": (550, b"5.1.1 Mailbox unavailable (fault injected)")}
    summary = api.get("/api/messages").json()["messages"][0]
    recipients = [(r["address"], r["code"]) for r in summary["envelope"]["recipients"]]
    assert recipients == [("ann@example.com", 250), ("Bounce@Example.com", 550)]
    session = session_of(api, summary["id"])
    assert faulted_lines(session, rule["id"]) == ["550 5.1.1 Mailbox unavailable (fault injected)"]
    assert api.get("/api/faults").json()["faults"][0]["fired"] == 1


def test_data_451_twice_then_accepted(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage="data", code=451, times=2)
    codes = []
    for _attempt in range(3):  # what an application's retry loop does
        try:
            with smtplib.SMTP(*smtp_address, timeout=30) as client:
                client.sendmail("app@example.com", ["ann@example.com"], RAW)
            codes.append(250)
        except smtplib.SMTPDataError as error:
            codes.append(error.smtp_code)
    assert codes == [451, 451, 250]
    assert api.get("/api/messages").json()["total"] == 1
    state = api.get("/api/faults").json()["faults"][-1]
    assert (state["id"], state["remaining"], state["fired"]) == (rule["id"], 0, 2)
    rejected = api.get("/api/sessions").json()["sessions"][-1]  # the first attempt
    assert faulted_lines(rejected, rule["id"]) == [rule["reply"]]
    assert rejected["message_ids"] == []


def test_connect_554_and_only_quit_afterwards(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage="connect", code=554, message="No SMTP service here", times=2)
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP(*smtp_address, timeout=30)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (554, b"No SMTP service here")
    lines = raw_session(smtp_address, b"EHLO x\r\nMAIL FROM:<a@b>\r\nQUIT\r\n", read_until=b"Bye\r\n")
    assert lines[0].startswith(b"503 5.5.1") and lines[1].startswith(b"503 5.5.1"), lines
    assert lines[2].startswith(b"221"), lines
    session = session_of(api)
    assert session["transcript"][0] == {
        "t_ms": session["transcript"][0]["t_ms"],
        "dir": "S",
        "line": "554 No SMTP service here",
        "fault_id": rule["id"],
    }
    with smtplib.SMTP(*smtp_address, timeout=30) as client:  # times=2 used up
        assert client.noop()[0] == 250


def test_auth_534_like_gmail(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    add_fault(api, stage="auth", code=534, match="*@gmail.com")
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("someone@gmail.com", "my-normal-password")
        assert refused.value.smtp_code == 534
        assert b"5.7.9 Application-specific password required" in refused.value.smtp_error
        client.login("someone@example.com", "pw")  # other users are not matched
    session = session_of(api)
    assert session["auth"] == {"mechanism": "CRAM-MD5", "username": "someone@example.com"}


def test_mail_fault_and_the_session_goes_on(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage="mail", code=451, enhanced="4.7.1", message="Greylisted", times=1)
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("app@example.com", ["ann@example.com"], RAW)
        assert (refused.value.smtp_code, refused.value.smtp_error) == (451, b"4.7.1 Greylisted")
        client.rset()
        assert client.sendmail("app@example.com", ["ann@example.com"], RAW) == {}
    session = session_of(api)
    assert faulted_lines(session, rule["id"]) == ["451 4.7.1 Greylisted"]
    assert len(session["message_ids"]) == 1


def test_helo_fault_refuses_ehlo_and_helo(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    add_fault(api, stage="helo", code=550, match="*.bad.example")
    with smtplib.SMTP(*smtp_address, local_hostname="laptop.bad.example", timeout=30) as client:
        with pytest.raises(smtplib.SMTPHeloError) as refused:
            client.sendmail("app@example.com", ["ann@example.com"], RAW)
        assert refused.value.smtp_code == 550
    with smtplib.SMTP(*smtp_address, local_hostname="good.example", timeout=30) as client:
        assert client.sendmail("app@example.com", ["ann@example.com"], RAW) == {}


def test_disconnect_at_data_drops_the_line_and_stores_nothing(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    rule = add_fault(api, stage="data", action="disconnect")
    with smtplib.SMTP(*smtp_address, timeout=30) as client, pytest.raises(smtplib.SMTPServerDisconnected):
        client.sendmail("app@example.com", ["ann@example.com"], RAW)
    assert api.get("/api/messages").json()["total"] == 0
    session = session_of(api)
    assert session["error"] == f"connection dropped by fault rule {rule['id']}"
    assert faulted_lines(session, rule["id"]) == [f"<connection dropped by fault rule {rule['id']}>"]
    assert session["transcript"][-2]["line"].startswith("<DATA ")  # the data arrived; no reply went out


def test_421_reply_closes_the_connection(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage="rcpt", code=421)
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("app@example.com", ["ann@example.com"], RAW)
        assert refused.value.recipients["ann@example.com"][0] == 421
    session = session_of(api)
    assert session["error"] == f"closed by fault rule {rule['id']}"
    assert session["transcript"][-1]["line"].startswith("421 4.4.2 ")


def test_delay_then_proceed(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage="rcpt", action="delay", delay_ms=300)
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        assert client.sendmail("app@example.com", ["ann@example.com"], RAW) == {}
    transcript = session_of(api)["transcript"]
    [note] = [i for i, line in enumerate(transcript) if line["fault_id"] == rule["id"]]
    assert transcript[note]["line"] == f"<fault {rule['id']}: waiting 300 ms>"
    reply = transcript[note + 1]
    assert reply["line"].startswith("250 2.1.5") and reply["fault_id"] is None
    assert reply["t_ms"] - transcript[note]["t_ms"] >= 250  # the reply waited for the delay


def test_a_slow_rejection_times_out_a_hasty_client(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage="data", code=451, delay_ms=3000)
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("x")
        client.mail("app@example.com")
        client.rcpt("ann@example.com")
        client.sock.settimeout(0.5)  # type: ignore[union-attr]
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client.data(RAW)
    session = session_of(api)
    assert session["error"] == "client disconnected without QUIT"
    assert session["transcript"][-2]["line"] == f"<fault {rule['id']}: waiting 3000 ms>"


def test_aiosmtplib_sees_the_injected_code(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    add_fault(api, stage="data", code=552, times=1)

    async def deliver() -> None:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await aiosmtplib.send(
                simple_message(),
                hostname=smtp_address[0],
                port=smtp_address[1],
                start_tls=False,
                timeout=30,
            )
        assert refused.value.code == 552

    asyncio.run(deliver())


@needs_swaks
@pytest.mark.parametrize(
    ("rule", "exit_code"),
    [
        ({"stage": "connect", "code": 554}, 21),  # swaks: error reading the banner
        ({"stage": "mail", "code": 553}, 23),
        ({"stage": "rcpt", "code": 550}, 24),  # no recipient accepted
        ({"stage": "data", "code": 451}, 26),  # mail not accepted after DATA
    ],
)
def test_swaks_exit_codes(
    rule: dict[str, Any], exit_code: int, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    add_fault(api, **rule)
    result = swaks(
        "--server", smtp_address[0], "--port", str(smtp_address[1]),
        "--to", "qa@example.com", "--from", "swaks@example.com",
    )  # fmt: skip
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert f"{rule['code']} " in result.stdout


def test_fault_api_lifecycle(api: httpx.Client, server: MailServer) -> None:
    initial = api.get("/api/faults").json()["faults"]
    created = add_fault(
        api, stage="rcpt", code=452, match="*@full.example", times=3, message="Mailbox full", delay_ms=10
    )
    assert created["reply"] == "452 4.3.1 Mailbox full"
    assert (created["remaining"], created["fired"], created["action"]) == (3, 0, "reply")
    assert [r.id for r in server.faults.rules()] == [*(r["id"] for r in initial), created["id"]]
    assert api.delete(f"/api/faults/{created['id']}").status_code == 204
    missing = api.delete(f"/api/faults/{created['id']}")
    assert missing.status_code == 404 and "no fault rule" in missing.json()["error"]
    add_fault(api, stage="data", action="disconnect")
    cleared = api.delete("/api/faults")
    assert cleared.status_code == 200 and cleared.json()["deleted"] == len(initial) + 1
    assert api.get("/api/faults").json() == {"faults": []}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"stage": "rcpt", "code": 200}', "code must be between 400 and 599"),
        (b'{"stage": "later", "code": 550}', "unknown stage"),
        (b'{"stage": "rcpt", "code": 550, "times": -1}', "times must be between"),
        (b'{"stage": "rcpt", "code": 550, "when": "now"}', "unknown fields: when"),
    ],
)
def test_bad_fault_rules_are_400(body: bytes, fragment: str, api: httpx.Client) -> None:
    before = api.get("/api/faults").json()
    response = api.post("/api/faults", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert api.get("/api/faults").json() == before


def test_command_line_faults_and_implicit_tls() -> None:
    with socket.socket() as probe:  # the banner's SMTPS line is read by running(): choose the port here
        probe.bind(("127.0.0.1", 0))
        smtps_port = probe.getsockname()[1]
    arguments = ("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--tls-self-signed")
    environ = {
        "MAILTRAP_LITE_FAULT": "rcpt:550:bounce@*,data:451::1",
        "MAILTRAP_LITE_SMTPS": f"127.0.0.1:{smtps_port}",
    }
    with running(*arguments, env=environ) as (process, _smtp, url):
        faults = httpx.get(f"{url}/api/faults", timeout=10).json()["faults"]
        assert [(f["stage"], f["code"], f["match"], f["times"]) for f in faults] == [
            ("rcpt", 550, "bounce@*", None),
            ("data", 451, None, 1),
        ]
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP_SSL("127.0.0.1", smtps_port, context=unverified, timeout=30) as client:
            client.ehlo("x")
            client.mail("app@example.com")
            assert client.rcpt("bounce@example.com")[0] == 550
            assert client.rcpt("ann@example.com")[0] == 250
            assert client.data(RAW)[0] == 451
        assert stop(process) == 0


def test_readme_fault_examples_work(api: httpx.Client) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Fault rules") : readme.index("## Configuration")]
    flags = re.findall(r"--fault '([^']+)'", section)
    bodies = re.findall(r"-d '(\{[^']+\})'", section)
    assert len(flags) == 3 and len(bodies) == 2
    for flag in flags:
        spec = parse_fault(flag)
        add_fault(api, stage=spec.stage, code=spec.code, match=spec.match, times=spec.times)
    for body in bodies:
        assert (
            api.post("/api/faults", content=body, headers={"content-type": "application/json"}).status_code
            == 201
        )
    assert len(api.get("/api/faults").json()["faults"]) == 1 + len(flags) + len(bodies)


def converse(address: tuple[str, int]) -> None:
    """A session that passes every stage: connect, EHLO, AUTH, MAIL, RCPT, DATA."""
    with smtplib.SMTP(*address, timeout=30) as client:
        client.ehlo("client.example")
        client.login("user", "pw")
        client.sendmail("app@example.com", ["ann@example.com"], RAW)


@pytest.mark.parametrize("stage", STAGES)
def test_disconnect_at_every_stage(stage: str, smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage=stage, action="disconnect")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        converse(smtp_address)
    session = session_of(api)
    assert session["error"] == f"connection dropped by fault rule {rule['id']}"
    assert session["transcript"][-1]["fault_id"] == rule["id"]
    assert api.get("/api/messages").json()["total"] == 0


@pytest.mark.parametrize("stage", STAGES)
def test_delay_at_every_stage(stage: str, smtp_address: tuple[str, int], api: httpx.Client) -> None:
    rule = add_fault(api, stage=stage, action="delay", delay_ms=50, times=1)
    converse(smtp_address)
    assert api.get("/api/messages").json()["total"] == 1
    notes = [line["line"] for line in session_of(api)["transcript"] if line["fault_id"] == rule["id"]]
    assert notes == [f"<fault {rule['id']}: waiting 50 ms>"]


def test_reply_text_is_ascii_unless_the_client_asked_for_smtputf8(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    add_fault(api, stage="rcpt", code=550, message="Empfänger unbekannt", times=2)
    commands = b"EHLO x\r\nMAIL FROM:<a@example.com>%s\r\nRCPT TO:<b@example.com>\r\nQUIT\r\n"
    # Read to the end of the session: the server closes after QUIT.
    plain = raw_session(smtp_address, commands % b"", read_until=b"\x00")
    utf8 = raw_session(smtp_address, commands % b" SMTPUTF8", read_until=b"\x00")
    refused = [[line for line in lines if line.startswith(b"550")] for lines in (plain, utf8)]
    assert refused == [[b"550 5.1.1 Empf?nger unbekannt"], ["550 5.1.1 Empfänger unbekannt".encode()]]
