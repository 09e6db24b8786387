"""``mailtrap.mailbox(name)``: a view of one mailbox with the whole API, over both backends."""

from __future__ import annotations

import pytest

from mailtrap_lite.mailboxes import MailboxError
from mailtrap_lite.testing.mailbox import Mailbox, MailtrapAssertionError
from tests.testing.conftest import email, send


def to_mailbox(box: Mailbox, subject: str) -> None:
    message = email(subject=subject)
    for name, value in box.headers.items():
        message[name] = value
    send(box, message)


def test_a_view_sees_and_clears_only_its_mailbox(mailbox: Mailbox) -> None:
    billing = mailbox.mailbox("Billing")
    assert billing.name == "billing" and repr(billing).endswith("mailbox=billing>")
    assert billing.headers == {"X-Mailtrap-Mailbox": "billing"} and mailbox.headers == {}
    to_mailbox(billing, "invoice")
    to_mailbox(mailbox, "welcome")
    assert billing.messages.subjects == ["invoice"]
    assert billing.wait_for(subject_contains="inv").mailbox == "billing"
    assert mailbox.messages.subjects == ["invoice", "welcome"]
    billing.assert_nothing_sent(subject="welcome")
    assert [s.message_ids for s in billing.sessions] == [(billing.messages[0].id,)]
    billing.clear()
    assert billing.messages.subjects == [] and mailbox.messages.subjects == ["welcome"]


def test_a_view_waits_for_its_own_mail_only(mailbox: Mailbox) -> None:
    ops = mailbox.mailbox("ops")
    to_mailbox(mailbox, "not for ops")
    with pytest.raises(MailtrapAssertionError, match=r"timed out after 0\.3s") as failed:
        ops.wait_for(timeout=0.3)
    assert "No message was received during this test." in str(failed.value)
    to_mailbox(ops, "for ops")
    assert ops.wait_for().subject == "for ops"


def test_a_view_removes_only_the_fault_rules_it_added(mailbox: Mailbox) -> None:
    mailbox.fault("rcpt", 550, match="kept@*")
    view = mailbox.mailbox("mine")
    view.fault("rcpt", 551, match="mine@*")
    view.reset()
    send(view, email(to="kept@example.com"), "kept@example.com", "mine@example.com")
    delivered = mailbox.wait_for()
    assert delivered.recipients == ("mine@example.com",)
    assert [(r.address, r.code) for r in delivered.envelope.recipients] == [
        ("kept@example.com", 550),
        ("mine@example.com", 250),
    ]


def test_a_bad_mailbox_name_is_a_clear_error(mailbox: Mailbox) -> None:
    with pytest.raises(MailboxError, match="bad mailbox name 'a b'"):
        mailbox.mailbox("a b")
