"""Fault rules through the plugin: ``mailtrap.fault(...)`` and the marker's ``faults``, in both modes.

Needs mailtrap_lite/faults.py and /api/faults (built on another branch).
"""

from __future__ import annotations

import pytest

from tests.test_cli import running
from tests.testing.test_plugin import args, suite

pytestmark = pytest.mark.usefixtures("subprocess_env")

FAULT_SUITE = """
import smtplib
import pytest
from helpers import send

def test_fault_scoped_to_the_test(mailtrap):
    rule = mailtrap.fault("rcpt", 550, match="bounce@*")
    assert rule["id"] and rule["code"] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(mailtrap, to="bounce@example.com")
    assert refused.value.recipients["bounce@example.com"][0] == 550
    send(mailtrap, to="ann@example.com")
    assert mailtrap.messages.subjects == ["Welcome"]

def test_the_rule_ended_with_the_test(mailtrap):
    send(mailtrap, to="bounce@example.com")
    assert mailtrap.get().recipients == ("bounce@example.com",)

@pytest.mark.mailtrap(faults=["data:451::2"])
def test_marker_faults_retry(mailtrap):
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as failed:
            send(mailtrap)
        assert failed.value.smtp_code == 451
    send(mailtrap)
    assert len(mailtrap.messages) == 1
    assert len([s for s in mailtrap.sessions if not s.message_ids]) == 2

@pytest.mark.mailtrap(faults=[{"stage": "mail", "action": "disconnect"}])
def test_marker_fault_dict(mailtrap):
    with pytest.raises(smtplib.SMTPException):
        send(mailtrap)
    mailtrap.assert_nothing_sent()
"""


def test_faults_in_process(pytester: pytest.Pytester) -> None:
    suite(pytester, FAULT_SUITE)
    pytester.runpytest(*args()).assert_outcomes(passed=4)


def test_faults_remote(pytester: pytest.Pytester) -> None:
    suite(pytester, FAULT_SUITE)
    with running("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0") as (_, smtp, url):
        result = pytester.runpytest_subprocess(*args(), f"--mailtrap-url={url}", f"--mailtrap-smtp={smtp}")
    result.assert_outcomes(passed=4)
